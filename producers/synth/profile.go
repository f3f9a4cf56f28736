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
// A history profile lists several such tables (Periods) instead of one; a table may lie inside
// another (a month inside its year), and then both hold.
type Profile struct {
	Name        string  `yaml:"name"`
	Description string  `yaml:"description"`
	From        Date    `yaml:"from"` // first day, UTC
	To          Date    `yaml:"to"`   // last day, inclusive, UTC
	Shares      []Share `yaml:"shares"`
	Periods     []Table `yaml:"periods"`
}

// Table is one published table: the shares of a period.
type Table struct {
	From   Date    `yaml:"from"`
	To     Date    `yaml:"to"`
	Shares []Share `yaml:"shares"`
	Source string  `yaml:"source"`
}

// Tables returns the profile's tables: its periods, or its one period.
func (p *Profile) Tables() []Table {
	if len(p.Periods) > 0 {
		return p.Periods
	}
	return []Table{{From: p.From, To: p.To, Shares: p.Shares}}
}

// Rest is the percentage left to countries the table does not list.
func (t Table) Rest() float64 {
	sum := 0.0
	for _, s := range t.Shares {
		sum += s.Percent
	}
	return 100 - sum
}

// End is the first instant after the table's period.
func (t Table) End() time.Time { return t.To.AddDate(0, 0, 1) }

func (t Table) contains(u Table) bool { return !u.From.Before(t.From.Time) && !u.To.After(t.To.Time) }

func (t Table) overlaps(u Table) bool { return u.From.Before(t.End()) && t.From.Before(u.End()) }

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

// Validate reports the first thing that makes p unusable.
func (p *Profile) Validate() error {
	if p.Name == "" {
		return errors.New("profile has no name")
	}
	if len(p.Periods) > 0 && (len(p.Shares) > 0 || !p.From.IsZero()) {
		return fmt.Errorf("profile %s has both periods and a period of its own", p.Name)
	}
	tables := p.Tables()
	for i, t := range tables {
		if err := t.validate(p.Name); err != nil {
			return err
		}
		for _, u := range tables[:i] {
			if t.overlaps(u) && !t.contains(u) && !u.contains(t) {
				return fmt.Errorf("profile %s: periods %s and %s overlap without one containing the other", p.Name, t.period(), u.period())
			}
		}
	}
	return nil
}

func (t Table) period() string {
	return t.From.Format(time.DateOnly) + ".." + t.To.Format(time.DateOnly)
}

func (t Table) validate(name string) error {
	if t.From.IsZero() || t.To.IsZero() || t.To.Before(t.From.Time) {
		return fmt.Errorf("profile %s: period %s is empty", name, t.period())
	}
	if len(t.Shares) == 0 {
		return fmt.Errorf("profile %s lists no countries for %s", name, t.period())
	}
	seen := map[string]bool{}
	for _, s := range t.Shares {
		if countries.Continent(s.Country) == "" {
			return fmt.Errorf("profile %s: %q is not an ISO 3166-1 alpha-2 country code", name, s.Country)
		}
		if seen[s.Country] {
			return fmt.Errorf("profile %s lists %s twice", name, s.Country)
		}
		seen[s.Country] = true
		if !(s.Percent > 0) || math.IsInf(s.Percent, 0) {
			return fmt.Errorf("profile %s: share of %s must be positive, not %v", name, s.Country, s.Percent)
		}
	}
	if rest := t.Rest(); rest < -1e-9 {
		return fmt.Errorf("profile %s: shares of %s add up to %.4f%%, more than 100%%", name, t.period(), 100-rest)
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
	for _, t := range p.Periods {
		for i := range t.Shares {
			t.Shares[i].Country = strings.ToUpper(t.Shares[i].Country)
		}
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}
