package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/spamgeo/spamgeo/console/campaign"
	"github.com/spamgeo/spamgeo/console/campaign/evidence"
	"github.com/spamgeo/spamgeo/console/campaign/hosting"
	"github.com/spamgeo/spamgeo/console/query"
	"github.com/spamgeo/spamgeo/console/report"
	"github.com/spamgeo/spamgeo/internal/geoip"
	"github.com/spamgeo/spamgeo/internal/period"
	"github.com/spamgeo/spamgeo/internal/telemetry"
	"github.com/spamgeo/spamgeo/mail/mailbox"
)

// CampaignRuleFlags say how messages are linked into campaigns; campaigns and evidence must
// agree on them for campaign ids to match.
type CampaignRuleFlags struct {
	MinSubjectWords int      `help:"Subject templates with fewer words (numbers and tags not counted) link nothing." default:"3" env:"SPAMGEO_CAMPAIGN_MIN_SUBJECT_WORDS"`
	MaxBodyDistance int      `help:"Bodies whose similarity hashes differ in at most this many of 64 bits are one campaign; 0 for identical text only." default:"6" env:"SPAMGEO_CAMPAIGN_MAX_BODY_DISTANCE"`
	IgnoreDomain    []string `help:"Registered domains that link nothing (link shorteners, markup boilerplate)." default:"w3.org" sep:"," env:"SPAMGEO_CAMPAIGN_IGNORE_DOMAIN"`
}

func (f CampaignRuleFlags) rules() campaign.Rules {
	return campaign.Rules{MinSubjectWords: f.MinSubjectWords, MaxSimhashDistance: f.MaxBodyDistance, IgnoreDomains: f.IgnoreDomain}
}

// campaignsOf opens ClickHouse and finds the campaigns of p, grouped through the end of cp too
// when it is given; closeConn closes the connection the store uses.
func campaignsOf(ctx context.Context, g *Globals, p period.Period, cp *period.Period, rf CampaignRuleFlags) (res *campaign.Result, store *campaign.Store, closeConn func() error, err error) {
	conn, err := g.clickhouse().Open(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	store = campaign.NewStore(conn)
	if cp != nil {
		res, err = campaign.FindCompared(ctx, store, p, *cp, rf.rules())
	} else {
		res, err = campaign.Find(ctx, store, p, rf.rules())
	}
	if err != nil {
		conn.Close()
		return nil, nil, nil, err
	}
	return res, store, conn.Close, nil
}

// CampaignsCmd is `spamgeo campaigns`.
type CampaignsCmd struct {
	PeriodFlags       `embed:"" envprefix:"SPAMGEO_CAMPAIGNS_"`
	CampaignRuleFlags `embed:""`
	Top               int    `help:"Campaigns listed." default:"10" env:"SPAMGEO_CAMPAIGNS_TOP"`
	MinMessages       uint64 `help:"Campaigns with fewer messages in the period are not listed." default:"2" env:"SPAMGEO_CAMPAIGNS_MIN_MESSAGES"`
	Format            string `help:"Output: text, markdown, csv, json, html, or png or svg (a chart of the listed campaigns' messages per day)." default:"text" enum:"text,markdown,csv,json,html,png,svg" env:"SPAMGEO_CAMPAIGNS_FORMAT"`
	Output            string `help:"Write to this file instead of standard output; it is written under a temporary name beside it and renamed into place when complete, so a failure leaves the path as it was (pipes and devices are written to directly)." short:"o" placeholder:"FILE" env:"SPAMGEO_CAMPAIGNS_OUTPUT"`
	Save              bool   `help:"Store the campaigns found (keys and days) as a new generation of the campaign_keys and campaign_days tables, for SQL and Grafana." env:"SPAMGEO_CAMPAIGNS_SAVE"`
	Movers            bool   `help:"After the listing, the campaigns whose share of all trapped messages rose or fell beyond chance against --compare (two-proportion z-test at 99% confidence, at least 30 messages in the two periods, largest change first) and those that entered or left the top --top (text, markdown, json)." env:"SPAMGEO_CAMPAIGNS_MOVERS"`
	Compare           string `help:"With --movers, the period to compare with: previous (the period before, same length), year (a year earlier), or a period as for --period. Campaigns are grouped through the later end of the two, so ids match." default:"previous" env:"SPAMGEO_CAMPAIGNS_COMPARE"`

	Resolver        string        `help:"DNS server (host:port) to resolve the listed campaigns' advertised hosts through; the answers are placed with the GeoIP files and recorded in host_addresses. Empty (the default) resolves nothing." placeholder:"HOST:PORT" env:"SPAMGEO_CAMPAIGNS_RESOLVER"`
	ResolveTimeout  time.Duration `help:"Time limit of one lookup." default:"2s" env:"SPAMGEO_CAMPAIGNS_RESOLVE_TIMEOUT"`
	ResolveRate     float64       `help:"Most lookups sent per second." default:"20" env:"SPAMGEO_CAMPAIGNS_RESOLVE_RATE"`
	ResolveCacheTTL time.Duration `help:"How long an answer is reused within one run." default:"1h" env:"SPAMGEO_CAMPAIGNS_RESOLVE_CACHE_TTL"`
	GeoIPFlags
}

// Help explains what a campaign is.
func (c *CampaignsCmd) Help() string {
	return "Messages are one campaign when they advertise the same registered domain (public-suffix aware), " +
		"share a subject template (numbers, tags and reply prefixes taken out) or have near-identical bodies " +
		"(simhash), transitively. Campaigns are grouped over all history up to the end of the period, so a " +
		"campaign keeps its id as messages arrive; the listing covers the period. Each campaign shows where " +
		"its mail was relayed from, where its advertised sites are hosted (after --resolver has looked them " +
		"up) and where their domains are registered (the country of a country-code TLD)."
}

// Run lists the campaigns.
func (c *CampaignsCmd) Run(ctx context.Context, g *Globals, stdout io.Writer) error {
	if c.Top < 1 {
		return fmt.Errorf("--top %d: list at least one campaign", c.Top)
	}
	p, err := c.period(time.Now())
	if err != nil {
		return err
	}
	var cp *period.Period
	if c.Movers {
		if !slices.Contains(campaign.MoversFormats, c.Format) {
			return fmt.Errorf("--movers writes %v, not %s", campaign.MoversFormats, c.Format)
		}
		if cp, err = report.Comparison(c.Compare, p); err != nil {
			return err
		}
		if cp == nil {
			return errors.New("--movers compares two periods: --compare none leaves nothing to compare with")
		}
	}
	out, err := output(ctx, c.Output, stdout, c.Format == "png")
	if err != nil {
		return err
	}
	defer out.Abort()
	res, store, closeStore, err := campaignsOf(ctx, g, p, cp, c.CampaignRuleFlags)
	if err != nil {
		return err
	}
	defer closeStore()
	listing := campaign.NewListing(res, c.Top, c.MinMessages)
	if c.Resolver != "" {
		if err := c.resolve(ctx, g, store, listing.Campaigns); err != nil {
			return err
		}
		if err := res.RefreshHosting(ctx, store); err != nil {
			return err
		}
		listing = campaign.NewListing(res, c.Top, c.MinMessages)
	}
	if c.Save {
		if err := store.Save(ctx, time.Now(), res.Campaigns, res.Summaries); err != nil {
			return err
		}
	}
	if cp != nil {
		m, err := res.Movers(ctx, store, *cp, c.Top, query.DefaultMoverRule)
		if err != nil {
			return err
		}
		listing = listing.WithMovers(m, *cp)
	}
	if err := campaign.Write(out, listing, c.Format); err != nil {
		return err
	}
	return out.Commit()
}

// resolve looks up the advertised hosts of the listed campaigns and records the answers.
func (c *CampaignsCmd) resolve(ctx context.Context, g *Globals, store *campaign.Store, listed []campaign.Summary) error {
	cfg := hosting.DefaultConfiguration()
	cfg.Server, cfg.Timeout, cfg.QueriesPerSecond, cfg.CacheTTL = c.Resolver, c.ResolveTimeout, c.ResolveRate, c.ResolveCacheTTL
	r, err := hosting.New(cfg, telemetry.NewRegistry())
	if err != nil {
		return err
	}
	geo, err := geoip.Open(c.configuration())
	if err != nil {
		return err
	}
	defer geo.Close()
	found, errs := campaign.ResolveHosts(ctx, r, geo, listed, time.Now())
	for _, err := range errs {
		g.logger.Warn("host not resolved", "error", err)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	g.logger.Info("resolved advertised hosts", "addresses", len(found), "failed", len(errs))
	return store.RecordResolutions(ctx, found)
}

// EvidenceCmd is `spamgeo evidence`.
type EvidenceCmd struct {
	PeriodFlags       `embed:"" envprefix:"SPAMGEO_EVIDENCE_"`
	CampaignRuleFlags `embed:""`
	Campaign          string   `help:"Campaign id, as spamgeo campaigns lists it for the same period." required:"" env:"SPAMGEO_EVIDENCE_CAMPAIGN"`
	Archive           []string `help:"Where the raw messages are: the trap's archive directory, or the files and directories that were replayed." required:"" type:"existingpath" sep:"," env:"SPAMGEO_EVIDENCE_ARCHIVE"`
	Out               string   `help:"Directory to create the bundle in; must not exist or be empty (or a symbolic link to an empty one). Built beside it and moved into place when complete." short:"o" required:"" placeholder:"DIR" env:"SPAMGEO_EVIDENCE_OUT"`
	MboxQuoting       string   `help:"How the archive's mbox files quote body lines starting with 'From '." enum:"mboxrd,mboxo" default:"mboxrd" env:"SPAMGEO_EVIDENCE_MBOX_QUOTING"`
}

// Help lists what a bundle holds.
func (c *EvidenceCmd) Help() string {
	return "Writes the campaign's raw messages (found in --archive by their event ids) to messages/, " +
		"manifest.json (every message with its file's SHA-256, trap addresses, time, source address and that " +
		"address's country and network as stored, and the provenance: spamgeo version, archive files with their SHA-256, " +
		"GeoIP builds and query), summary.html (a readable account: the three geographies, " +
		"the sending machines, the trap addresses, every message) and SHA256SUMS (sha256sum -c SHA256SUMS " +
		"checks the bundle). The same archive and database give the same bytes."
}

// Run builds the bundle.
func (c *EvidenceCmd) Run(ctx context.Context, g *Globals, stdout io.Writer) error {
	p, err := c.period(time.Now())
	if err != nil {
		return err
	}
	res, store, closeStore, err := campaignsOf(ctx, g, p, nil, c.CampaignRuleFlags)
	if err != nil {
		return err
	}
	defer closeStore()
	camp, sum, ok := res.Lookup(c.Campaign)
	if !ok {
		return fmt.Errorf("no campaign %s has messages in %s (list them with spamgeo campaigns for the same period and rules)", c.Campaign, res.Period)
	}
	msgs, err := res.Messages(ctx, store, camp)
	if err != nil {
		return err
	}
	opts := mailbox.DefaultOptions()
	opts.MboxQuoting = c.MboxQuoting
	m, err := evidence.Build(ctx, evidence.Input{Period: res.Period.String(), Campaign: sum, Keys: camp.Keys, Messages: msgs,
		Archives: c.Archive, Mailbox: opts, Rules: c.rules(), Version: g.version}, c.Out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "campaign %s: %d messages, %d found in the archive, bundle in %s\n", m.Campaign, m.Messages, m.Archived, c.Out)
	if m.Archived < m.Messages {
		g.logger.Warn("some messages of the campaign are not in the archive; the bundle lists them without their raw files",
			"missing", m.Messages-m.Archived)
	}
	return nil
}
