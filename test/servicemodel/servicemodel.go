// Package servicemodel checks values against the AWS service models'
// own constraints: the JSON models botocore ships (the Python package on
// these machines, as the AWS CLI uses them), each API member's shape with
// its length bounds, pattern and range.
package servicemodel

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// Model is one service's API model.
type Model struct {
	Service string
	Shapes  map[string]Shape `json:"shapes"`
}

// Shape is a member's type and its constraints.
type Shape struct {
	Type    string            `json:"type"`
	Min     *float64          `json:"min"`
	Max     *float64          `json:"max"`
	Pattern string            `json:"pattern"`
	Members map[string]Member `json:"members"`
}

// Member is a structure's member.
type Member struct {
	Shape string `json:"shape"`
}

var (
	dataDir     string
	dataDirErr  error
	dataDirOnce sync.Once
)

// botocoreData is where botocore's models are: asked of the machine's
// Python, as the AWS CLI finds them, else Debian's python3-botocore.
func botocoreData() (string, error) {
	dataDirOnce.Do(func() {
		if out, err := exec.Command("python3", "-c", "import botocore, os; print(os.path.dirname(botocore.__file__))").Output(); err == nil {
			dataDir = filepath.Join(strings.TrimSpace(string(out)), "data")
			return
		}
		if _, err := os.Stat("/usr/lib/python3/dist-packages/botocore/data"); err == nil {
			dataDir = "/usr/lib/python3/dist-packages/botocore/data"
			return
		}
		dataDirErr = fmt.Errorf("no botocore models (the AWS CLI's): python3 cannot import botocore and Debian's python3-botocore is not installed")
	})
	return dataDir, dataDirErr
}

// Load reads the newest model of service (botocore's name, such as
// imagebuilder or ec2).
func Load(service string) (*Model, error) {
	root, err := botocoreData()
	if err != nil {
		return nil, err
	}
	versions, err := filepath.Glob(filepath.Join(root, service, "*", "service-2.json*"))
	if err != nil || len(versions) == 0 {
		return nil, fmt.Errorf("no botocore model for %s under %s", service, root)
	}
	sort.Strings(versions)
	f, err := os.Open(versions[len(versions)-1])
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(f.Name(), ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return nil, err
		}
		r = gz
	}
	m := &Model{Service: service}
	if err := json.NewDecoder(r).Decode(m); err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name(), err)
	}
	return m, nil
}

// Check reports whether value fits the member of the operation's input
// structure (such as CreateComponentRequest.name): its length bounds and
// pattern.
func (m *Model) Check(structure, member, value string) error {
	s, ok := m.Shapes[structure]
	if !ok {
		return fmt.Errorf("%s: no shape %s", m.Service, structure)
	}
	mem, ok := s.Members[member]
	if !ok {
		return fmt.Errorf("%s: %s has no member %s", m.Service, structure, member)
	}
	return m.CheckShape(mem.Shape, value)
}

// CheckShape reports whether value fits shape.
func (m *Model) CheckShape(shape, value string) error {
	s, ok := m.Shapes[shape]
	if !ok {
		return fmt.Errorf("%s: no shape %s", m.Service, shape)
	}
	n := float64(len([]rune(value)))
	if s.Min != nil && n < *s.Min {
		return fmt.Errorf("%s %q: %v characters, under the minimum %v", shape, value, n, *s.Min)
	}
	if s.Max != nil && n > *s.Max {
		return fmt.Errorf("%s: %v characters, over the maximum %v", shape, n, *s.Max)
	}
	if s.Pattern != "" {
		re, err := regexp.Compile(s.Pattern)
		if err != nil {
			return fmt.Errorf("%s: pattern %q: %v", shape, s.Pattern, err)
		}
		if !re.MatchString(value) {
			return fmt.Errorf("%s %q does not match %s", shape, value, s.Pattern)
		}
	}
	return nil
}
