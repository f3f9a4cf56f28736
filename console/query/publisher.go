package query

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/spamgeo/spamgeo/internal/countries"
)

//go:embed publishers/*.yaml
var builtinPublishers embed.FS

// Publisher is how one publisher groups countries in its tables: each group is reported as
// one row under its code and label.
type Publisher struct {
	Name        string           `yaml:"name"`
	Description string           `yaml:"description"`
	Groups      []PublisherGroup `yaml:"groups"`
}

// PublisherGroup is one reported row made of several countries.
type PublisherGroup struct {
	Code    string   `yaml:"code"`
	Label   string   `yaml:"label"`
	Members []string `yaml:"members"`
}

// Merge maps each member country to its group's code, for Request.Merge.
func (p *Publisher) Merge() map[string]string {
	out := map[string]string{}
	for _, g := range p.Groups {
		for _, m := range g.Members {
			out[m] = g.Code
		}
	}
	return out
}

// Label returns the publisher's label of a group code, or "" for ordinary countries.
func (p *Publisher) Label(code string) string {
	for _, g := range p.Groups {
		if g.Code == code {
			return g.Label
		}
	}
	return ""
}

// BuiltinPublishers lists the groupings shipped in the binary.
func BuiltinPublishers() []string {
	entries, _ := fs.ReadDir(builtinPublishers, "publishers")
	var out []string
	for _, e := range entries {
		out = append(out, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	return out
}

// LoadPublisher reads a built-in grouping by name or a grouping file by path.
func LoadPublisher(nameOrPath string) (*Publisher, error) {
	data, err := fs.ReadFile(builtinPublishers, path.Join("publishers", nameOrPath+".yaml"))
	if err != nil {
		if data, err = os.ReadFile(nameOrPath); err != nil {
			return nil, fmt.Errorf("publisher grouping %q is neither built in (%s) nor a readable file: %w",
				nameOrPath, strings.Join(BuiltinPublishers(), ", "), err)
		}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var p Publisher
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("publisher grouping %s: %w", nameOrPath, err)
	}
	seen := map[string]string{}
	for _, g := range p.Groups {
		if countries.Continent(g.Code) == "" || g.Label == "" || len(g.Members) == 0 {
			return nil, fmt.Errorf("publisher grouping %s: group %q needs a country code, a label and members", p.Name, g.Code)
		}
		if !slices.Contains(g.Members, g.Code) {
			return nil, fmt.Errorf("publisher grouping %s: group %s must list itself among its members", p.Name, g.Code)
		}
		for _, m := range g.Members {
			if countries.Continent(m) == "" {
				return nil, fmt.Errorf("publisher grouping %s: %q is not a country code", p.Name, m)
			}
			if other, dup := seen[m]; dup {
				return nil, fmt.Errorf("publisher grouping %s: %s is in both %s and %s", p.Name, m, other, g.Code)
			}
			seen[m] = g.Code
		}
	}
	return &p, nil
}
