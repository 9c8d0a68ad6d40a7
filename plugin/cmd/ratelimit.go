package cmd

import (
	"fmt"

	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"
)

// clientLimits is how the plugin's API clients pace themselves. By default
// there is no client-side token bucket (QPS -1): the API server's Priority
// and Fairness (GA since 1.29) queues and sheds load per flow, which is what
// SIG API Machinery recommends relying on, and what controller-runtime did
// (kubernetes-sigs/controller-runtime#3119). client-go's default of 5 QPS,
// burst 10 made a 2,000-node audit wait 13 s on its own limiter. The
// plugin's concurrency stays bounded by construction (paged lists, one at a
// time per resource; a fixed number of registry lookups), and client-go
// retries 429 answers after their Retry-After (k8s.io/client-go v0.37.2
// rest/request.go, up to 10 times). --qps brings a client-side limiter back
// for servers or proxies that want one.
type clientLimits struct {
	qps   float32
	burst int
}

func (l *clientLimits) addFlags(fs *pflag.FlagSet) {
	fs.Float32Var(&l.qps, "qps", 0, "Client-side limit on API requests per second (default: none; the API server's Priority and Fairness paces clients)")
	fs.IntVar(&l.burst, "burst", 0, "Burst allowed over --qps (default: twice --qps)")
}

func (l *clientLimits) validate() error {
	if l.qps < 0 || l.burst < 0 {
		return fmt.Errorf("--qps and --burst cannot be negative")
	}
	if l.burst > 0 && l.qps == 0 {
		return fmt.Errorf("--burst needs --qps")
	}
	return nil
}

// wrap applies the policy to every REST config the commands build.
func (l *clientLimits) wrap(cfg *rest.Config) *rest.Config {
	if cfg.RateLimiter != nil {
		return cfg
	}
	if l.qps > 0 {
		cfg.QPS, cfg.Burst = l.qps, l.burst
		if cfg.Burst == 0 {
			cfg.Burst = max(int(2*l.qps), 1)
		}
		return cfg
	}
	cfg.QPS, cfg.Burst = -1, 0
	return cfg
}
