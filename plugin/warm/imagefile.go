package warm

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/winimage-io/kubectl-winimage/daemon/contract/imagelist"
)

// ReadImageFile reads --from-file: one reference per line (blank lines and
// # comments skipped), or a daemon image list (images: [{ref: …}]).
func ReadImageFile(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseImageFile(path, data)
}

// ParseImageFile is ReadImageFile on data already read; name is for errors.
func ParseImageFile(name string, data []byte) ([]string, error) {
	var out []string
	if strings.HasPrefix(strings.TrimSpace(string(data)), "images:") {
		l, err := imagelist.Parse(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		for _, img := range l.Images {
			out = append(out, img.Ref)
		}
		return out, nil
	}
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out, sc.Err()
}
