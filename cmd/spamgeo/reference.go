package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/alecthomas/kong"
	"gopkg.in/yaml.v3"
)

// ConfigReferenceCmd prints the reference of every setting; docs/configuration.md is its output.
type ConfigReferenceCmd struct{}

func (c *ConfigReferenceCmd) Run(kctx *kong.Context, stdout io.Writer) error {
	return writeReference(stdout, kctx.Model)
}

// settings are the flags of node that a configuration may set: not --help, --version or --config.
func settings(node *kong.Node) []*kong.Flag {
	var out []*kong.Flag
	for _, f := range node.Flags {
		if f.Hidden || f.Name == "help" || f.Name == "version" || f.Name == "config" {
			continue
		}
		out = append(out, f)
	}
	return out
}

// yamlKey is the key that sets f in the configuration file: the flag's name, after the names of
// the commands it belongs to.
func yamlKey(node *kong.Node, f *kong.Flag) string {
	var path []string
	for n := node; n != nil && n.Type != kong.ApplicationNode; n = n.Parent {
		path = append([]string{n.Name}, path...)
	}
	return strings.Join(append(path, f.Name), "-")
}

// commands lists node's commands depth first.
func commands(node *kong.Node) []*kong.Node {
	var out []*kong.Node
	for _, c := range node.Children {
		if c.Type == kong.CommandNode && !c.Hidden {
			out = append(out, c)
			out = append(out, commands(c)...)
		}
	}
	return out
}

func writeReference(w io.Writer, app *kong.Application) error {
	var b strings.Builder
	b.WriteString(`# Configuration reference

<!-- Generated from the code by ` + "`spamgeo config-reference`" + ` (make docs). A test fails when this page
and the code disagree. -->

Every setting has a default, shown below. Three sources can change it, each overriding the ones
before it:

1. the YAML file named by ` + "`--config FILE`" + ` (or ` + "`SPAMGEO_CONFIG`" + `),
2. the environment variable shown with the setting (` + "`SPAMGEO_…`" + `),
3. the command-line flag.

In the YAML file a setting's key is its flag name. A command's own settings go under the
command's name, nested or joined with a dash; lists are YAML lists:

` + "```yaml" + `
kafka-brokers: [kafka-1:9092, kafka-2:9092]
clickhouse:
  addr: [clickhouse:9000]
  password-file: /run/secrets/clickhouse_password
sink:
  batch-rows: 50000
enrich-batch-wait: 200ms
` + "```" + `

A key that names no setting is refused, so a misspelt key cannot be silently ignored.
Passwords belong in a file (` + "`--clickhouse-password-file`, `--kafka-sasl-password-file`" + `: a
mounted secret) or in the environment, not on the command line, where other users of the
machine can read them. spamgeo never logs its settings.
`)
	section := func(title string, node *kong.Node) {
		flags := settings(node)
		if len(flags) == 0 {
			return
		}
		fmt.Fprintf(&b, "\n%s\n", title)
		// Flags of one group stay together, in the order the first of each appears.
		var groups []string
		byGroup := map[string][]*kong.Flag{}
		for _, f := range flags {
			g := ""
			if f.Group != nil {
				g = f.Group.Title
			}
			if _, seen := byGroup[g]; !seen {
				groups = append(groups, g)
			}
			byGroup[g] = append(byGroup[g], f)
		}
		for _, g := range groups {
			if g != "" {
				fmt.Fprintf(&b, "\n### %s\n", g)
				if users := usersOf(app, g); node == app.Node && users != "" {
					fmt.Fprintf(&b, "\nUsed by %s; the other commands accept these settings and ignore them.\n", users)
				}
			}
			b.WriteString("\n| YAML key | Flag | Environment | Default | Meaning |\n|---|---|---|---|---|\n")
			for _, f := range byGroup[g] {
				fmt.Fprintf(&b, "| `%s` | `%s` | %s | %s | %s |\n", yamlKey(node, f), flagSyntax(f),
					envs(f), defaultValue(f), cell(f.Help))
			}
		}
	}
	section("## Settings of every command", app.Node)
	for _, c := range commands(app.Node) {
		section(fmt.Sprintf("## spamgeo %s\n\n%s", c.Path(), c.Help), c)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// usersOf lists the commands whose `servers` tag names the flag group, for connection settings.
func usersOf(app *kong.Application, group string) string {
	var names []string
	for _, c := range commands(app.Node) {
		if slices.Contains(strings.Split(c.Tag.Get("servers"), ","), group) {
			names = append(names, "`"+c.Name+"`")
		}
	}
	return strings.Join(names, ", ")
}

func flagSyntax(f *kong.Flag) string {
	if f.IsBool() {
		return "--" + f.Name
	}
	return "--" + f.Name + "=" + f.FormatPlaceHolder()
}

func envs(f *kong.Flag) string {
	var out []string
	for _, e := range f.Envs {
		out = append(out, "`"+e+"`")
	}
	return strings.Join(out, ", ")
}

func defaultValue(f *kong.Flag) string {
	switch {
	case f.Default != "":
		return "`" + f.Default + "`"
	case f.IsBool():
		return "`false`"
	}
	return ""
}

// cell makes help text safe inside a Markdown table cell.
func cell(s string) string {
	return strings.NewReplacer("|", "\\|", "\n", " ").Replace(s)
}

// checkConfigKeys refuses keys of the YAML configuration that set nothing: kong's YAML loader
// ignores them, so a misspelt key would quietly leave its setting at the default.
func checkConfigKeys(app *kong.Application, file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	known := map[string]bool{}
	for _, node := range append([]*kong.Node{app.Node}, commands(app.Node)...) {
		for _, f := range settings(node) {
			known[yamlKey(node, f)] = true
		}
	}
	var unknown []string
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			key := prefix + k
			if child, ok := v.(map[string]any); ok {
				walk(key+"-", child)
			} else if !known[key] {
				unknown = append(unknown, key)
			}
		}
	}
	walk("", doc)
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return errors.New(file + ": unknown settings " + strings.Join(unknown, ", ") +
			" (keys are flag names; `spamgeo config-reference` lists them)")
	}
	return nil
}
