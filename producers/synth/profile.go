package synth

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/spamgeo/spamgeo/internal/countries"
)

//go:embed profiles/*.yaml
var builtin embed.FS

// Profile is the ground truth a synthetic run follows: each listed country's share of the
// messages over a period. Whatever the listed shares leave is spread over other countries, each
// given at most half the smallest listed share so none of them outranks a listed country.
type Profile struct {
	Name        string  `yaml:"name"`
	Description string  `yaml:"description"`
	From        Date    `yaml:"from"` // first day, UTC
	To          Date    `yaml:"to"`   // last day, inclusive, UTC
	Shares      []Share `yaml:"shares"`
}

// Share is one country's percentage of the messages.
type Share struct {
	Country string  `yaml:"country"`
	Percent float64 `yaml:"share"`
}

// Date is a calendar day written as YYYY-MM-DD.
type Date struct{ time.Time }

// UnmarshalYAML reads YYYY-MM-DD.
func (d *Date) UnmarshalYAML(n *yaml.Node) error {
	t, err := time.Parse(time.DateOnly, n.Value)
	if err != nil {
		return fmt.Errorf("line %d: date %q is not YYYY-MM-DD", n.Line, n.Value)
	}
	d.Time = t
	return nil
}

// Rest is the percentage left to countries the profile does not list.
func (p *Profile) Rest() float64 {
	sum := 0.0
	for _, s := range p.Shares {
		sum += s.Percent
	}
	return 100 - sum
}

// End is the first instant after the profile's period.
func (p *Profile) End() time.Time { return p.To.AddDate(0, 0, 1) }

// Validate reports the first thing that makes p unusable.
func (p *Profile) Validate() error {
	if p.Name == "" {
		return errors.New("profile has no name")
	}
	if p.From.IsZero() || p.To.IsZero() || p.To.Before(p.From.Time) {
		return fmt.Errorf("profile %s: period %s..%s is empty", p.Name, p.From.Format(time.DateOnly), p.To.Format(time.DateOnly))
	}
	if len(p.Shares) == 0 {
		return fmt.Errorf("profile %s lists no countries", p.Name)
	}
	seen := map[string]bool{}
	for _, s := range p.Shares {
		if countries.Continent(s.Country) == "" {
			return fmt.Errorf("profile %s: %q is not an ISO 3166-1 alpha-2 country code", p.Name, s.Country)
		}
		if seen[s.Country] {
			return fmt.Errorf("profile %s lists %s twice", p.Name, s.Country)
		}
		seen[s.Country] = true
		if !(s.Percent > 0) || math.IsInf(s.Percent, 0) {
			return fmt.Errorf("profile %s: share of %s must be positive, not %v", p.Name, s.Country, s.Percent)
		}
	}
	if rest := p.Rest(); rest < -1e-9 {
		return fmt.Errorf("profile %s: shares add up to %.4f%%, more than 100%%", p.Name, 100-rest)
	}
	return nil
}

// BuiltinProfiles lists the names of the profiles shipped in the binary.
func BuiltinProfiles() []string {
	entries, _ := fs.ReadDir(builtin, "profiles")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	slices.Sort(names)
	return names
}

// LoadProfile reads a built-in profile by name, or a profile file by path.
func LoadProfile(nameOrPath string) (*Profile, error) {
	data, err := fs.ReadFile(builtin, path.Join("profiles", nameOrPath+".yaml"))
	if err != nil {
		if data, err = os.ReadFile(nameOrPath); err != nil {
			return nil, fmt.Errorf("profile %q is neither built in (%s) nor a readable file: %w",
				nameOrPath, strings.Join(BuiltinProfiles(), ", "), err)
		}
	}
	return ParseProfile(data)
}

// ParseProfile reads a profile from YAML; unknown keys are errors, so typos do not pass silently.
func ParseProfile(data []byte) (*Profile, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var p Profile
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	for i := range p.Shares {
		p.Shares[i].Country = strings.ToUpper(p.Shares[i].Country)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}
