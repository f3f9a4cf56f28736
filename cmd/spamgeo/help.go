package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/alecthomas/kong"
)

// commandGroups are the stages the top-level help lists the commands by (the `group` tag of
// each command).
var commandGroups = []kong.Group{
	{Key: "collect", Title: "Collect: trap mail becomes raw events in Kafka"},
	{Key: "process", Title: "Process: raw events get their country and network and go into ClickHouse"},
	{Key: "read", Title: "Read: reports, data and campaigns from ClickHouse"},
	{Key: "operate", Title: "Operate"},
}

// Flag groups of the connections; a command's `servers` tag names the ones it talks to, and its
// help shows only their flags.
const kafkaGroup, clickhouseGroup = "Kafka", "ClickHouse"

const helpWidth = 80

// help prints the top-level page (commands by stage, an example each, the flags every command
// has) or a command's page, which leaves out the flags of servers the command does not talk to.
// Those flags still work everywhere, so one settings file serves every role.
func help(options kong.HelpOptions, ctx *kong.Context) error {
	cmd := ctx.Selected()
	if cmd == nil {
		return writeOverview(ctx.Stdout, ctx.Model)
	}
	servers := strings.Split(cmd.Tag.Get("servers"), ",")
	for _, f := range ctx.Model.Flags {
		if f.Group == nil || f.Hidden || (f.Group.Key != kafkaGroup && f.Group.Key != clickhouseGroup) {
			continue
		}
		if !slices.Contains(servers, f.Group.Key) {
			f.Hidden = true
			defer func() { f.Hidden = false }()
		}
	}
	if err := kong.DefaultHelpPrinter(options, ctx); err != nil {
		return err
	}
	if ex := cmd.Tag.Get("example"); ex != "" {
		_, err := fmt.Fprintf(ctx.Stdout, "\nExample:\n  %s\n", ex)
		return err
	}
	return nil
}

func writeOverview(w io.Writer, app *kong.Application) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: %s <command> [flags]\n", app.Name)
	for _, para := range strings.Split(app.Help, "\n\n") {
		b.WriteString("\n")
		writeWrapped(&b, "", "", para)
	}
	const indent, nameWidth = "  ", 10
	pad := strings.Repeat(" ", len(indent)+nameWidth+1)
	for _, g := range commandGroups {
		fmt.Fprintf(&b, "\n%s\n", g.Title)
		for _, c := range app.Leaves(true) {
			if c.Group == nil || c.Group.Key != g.Key {
				continue
			}
			first := fmt.Sprintf("%s%-*s ", indent, nameWidth, c.Name)
			if len(c.Name) >= nameWidth {
				b.WriteString(indent + c.Name + "\n")
				first = pad
			}
			writeWrapped(&b, first, pad, c.Help)
			fmt.Fprintf(&b, "%s$ %s\n", pad, c.Tag.Get("example"))
		}
	}
	b.WriteString("\nFlags of every command:\n")
	var rows [][2]string
	for _, f := range app.Flags {
		if f.Hidden || f.Group != nil {
			continue
		}
		name := "    --" + f.Name
		if f.Short != 0 {
			name = fmt.Sprintf("-%c, --%s", f.Short, f.Name)
		}
		if !f.IsBool() {
			name += "=" + f.FormatPlaceHolder()
		}
		rows = append(rows, [2]string{name, kong.DefaultHelpValueFormatter(f.Value)})
	}
	flagWidth := 0
	for _, r := range rows {
		flagWidth = max(flagWidth, len(r[0]))
	}
	for _, r := range rows {
		writeWrapped(&b, fmt.Sprintf("%s%-*s  ", indent, flagWidth, r[0]), strings.Repeat(" ", len(indent)+flagWidth+2), r[1])
	}
	b.WriteString("\n")
	writeWrapped(&b, "", "", fmt.Sprintf("The %s and %s connection flags are shown by the commands that use them: "+
		`run "%s <command> --help" for a command's flags; "%s config-reference" lists every setting.`,
		kafkaGroup, clickhouseGroup, app.Name, app.Name))
	_, err := io.WriteString(w, b.String())
	return err
}

// writeWrapped writes text in lines of at most helpWidth characters, the first after first and
// the others after rest.
func writeWrapped(b *strings.Builder, first, rest, text string) {
	line := first
	empty := true
	for _, word := range strings.Fields(text) {
		if !empty && len(line)+1+len(word) > helpWidth {
			b.WriteString(line + "\n")
			line, empty = rest, true
		}
		if !empty {
			line += " "
		}
		line += word
		empty = false
	}
	b.WriteString(line + "\n")
}
