//go:build linux

// Package cfnspec checks CloudFormation templates against AWS's own
// resource database: the npm package @aws-cdk/aws-service-spec, whose
// db.json.gz holds every CloudFormation resource type with its properties,
// their types, allowed values and which are required (the database the
// AWS CDK generates its L1 constructs from). It is fetched with `npm pack`
// once and kept beside the rig's binaries.
package cfnspec

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/winimage-io/kubectl-winimage/test/rigcache"
)

// Version of @aws-cdk/aws-service-spec the checks run against: pinned, so
// a new release cannot change a test's verdict unseen.
const Version = "0.1.216"

// Spec is the part of the database the checks read.
type Spec struct {
	Resources map[string]*Resource
	types     map[string]*TypeDefinition
}

// Resource is one CloudFormation resource type.
type Resource struct {
	Type       string              `json:"cloudFormationType"`
	Properties map[string]Property `json:"properties"`
	Attributes map[string]Property `json:"attributes"`
}

// TypeDefinition is a property type (a nested object).
type TypeDefinition struct {
	ID         string              `json:"$id"`
	Name       string              `json:"name"`
	Properties map[string]Property `json:"properties"`
}

// Property is one property: its type and whether it is required.
type Property struct {
	Type     Type `json:"type"`
	Required bool `json:"required"`
}

// Type is a property's type: a primitive (string, number, integer,
// boolean, json, date-time, tag), an array or map of an element type, a
// reference to a TypeDefinition, or a union.
type Type struct {
	Kind          string `json:"type"`
	AllowedValues []any  `json:"allowedValues"`
	Element       *Type  `json:"element"`
	Reference     *struct {
		ID string `json:"$ref"`
	} `json:"reference"`
	Types []Type `json:"types"`
}

// Path is the database file, fetched with npm into the rig's cache on
// first use.
func Path() (string, error) {
	cache, err := rigcache.Dir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, "aws-service-spec-"+Version)
	db := filepath.Join(dir, "db.json.gz")
	return db, rigcache.FillOnce(dir, db, func() error {
		tmp, err := os.MkdirTemp(dir, "npm-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		cmd := exec.Command("npm", "pack", "--silent", "@aws-cdk/aws-service-spec@"+Version)
		cmd.Dir = tmp
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("npm pack @aws-cdk/aws-service-spec@%s: %v", Version, err)
		}
		if err := extract(filepath.Join(tmp, string(trimNewline(out))), "package/db.json.gz", db+".tmp"); err != nil {
			return err
		}
		return os.Rename(db+".tmp", db)
	})
}

func trimNewline(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

func extract(tarball, name, to string) error {
	f, err := os.Open(tarball)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%s has no %s", tarball, name)
		}
		if err != nil {
			return err
		}
		if h.Name != name {
			continue
		}
		out, err := os.Create(to)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, tr); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	}
}

// Load reads the database.
func Load(path string) (*Spec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	var db struct {
		Schema struct {
			Resource struct {
				Entities []*Resource `json:"entities"`
			} `json:"resource"`
			TypeDefinition struct {
				Entities []*TypeDefinition `json:"entities"`
			} `json:"typeDefinition"`
		} `json:"schema"`
	}
	if err := json.NewDecoder(gz).Decode(&db); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s := &Spec{Resources: map[string]*Resource{}, types: map[string]*TypeDefinition{}}
	for _, r := range db.Schema.Resource.Entities {
		s.Resources[r.Type] = r
	}
	for _, t := range db.Schema.TypeDefinition.Entities {
		s.types[t.ID] = t
	}
	if len(s.Resources) == 0 {
		return nil, fmt.Errorf("%s: no resource types", path)
	}
	return s, nil
}

var (
	loadOnce sync.Once
	loaded   *Spec
	loadErr  error
)

// ForTest is the database for tests, fetched and read once per process;
// with -short the test is skipped.
func ForTest(tb testing.TB) *Spec {
	tb.Helper()
	if testing.Short() {
		tb.Skip("needs AWS's resource database (npm pack); run without -short")
	}
	loadOnce.Do(func() {
		var path string
		if path, loadErr = Path(); loadErr == nil {
			loaded, loadErr = Load(path)
		}
	})
	if loadErr != nil {
		tb.Fatal(loadErr)
	}
	return loaded
}
