package campaign_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/spamgeo/spamgeo/console/campaign"
	"github.com/spamgeo/spamgeo/console/query"
	"github.com/spamgeo/spamgeo/internal/period"
	"github.com/spamgeo/spamgeo/internal/testenv"
	"github.com/spamgeo/spamgeo/storage/clickhousedb"
)

// insertMessages stores n messages of March or April 2005 linking domain ("" for messages of no
// campaign), one a minute from the month's 10th.
func insertMessages(t *testing.T, conn clickhousedb.Conn, month int, domain string, n int) {
	t.Helper()
	domains := "[]"
	if domain != "" {
		domains = "['" + domain + "']"
	}
	sql := fmt.Sprintf("INSERT INTO events (event_id, received_at, trap_id, country_code, url_domains) SELECT generateUUIDv4(), "+
		"toDateTime('2005-%02d-10 00:00:00', 'UTC') + number * 60, 't', 'US', %s FROM system.numbers LIMIT %d", month, domains, n)
	if err := conn.Exec(context.Background(), sql); err != nil {
		t.Fatal(err)
	}
}

// Campaign shares are of all trapped messages (1,000 in each month here): a rises from 10% to
// 30% and c falls from 30% to 1.5%, both beyond chance; b's 10% → 11% (z ≈ 0.73) is not a move;
// d's 25 messages are too few to test, and it entered the top 3 that c left. Against a month without
// messages there is nothing to compare, and Movers says so rather than list every campaign as
// new.
func TestCampaignMoversOnRealServer(t *testing.T) {
	_, conn := testenv.MigratedClickHouse(t)
	for _, m := range []struct {
		domain       string
		march, april int
	}{{"a.example", 100, 300}, {"b.example", 100, 110}, {"c.example", 300, 15}, {"d.example", 0, 25}, {"", 500, 550}} {
		insertMessages(t, conn, 3, m.domain, m.march)
		insertMessages(t, conn, 4, m.domain, m.april)
	}
	ctx := context.Background()
	march, _ := period.Parse("2005-03")
	april, _ := period.Parse("2005-04")
	s := campaign.NewStore(conn)
	res, err := campaign.FindCompared(ctx, s, april, march, campaign.DefaultRules())
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{} // domain → campaign id
	for _, c := range res.Campaigns {
		for _, k := range c.Keys {
			ids[k.Value] = c.ID
		}
	}
	m, err := res.Movers(ctx, s, march, 3, query.DefaultMoverRule)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Risen) != 1 || m.Risen[0].Key != ids["a.example"] || m.Risen[0].Messages != 300 || m.Risen[0].PreviousMessages != 100 ||
		m.Risen[0].Share != 30 || m.Risen[0].PreviousShare != 10 {
		t.Errorf("risen %+v, want a.example (%s) 10%% → 30%%", m.Risen, ids["a.example"])
	}
	if len(m.Fallen) != 1 || m.Fallen[0].Key != ids["c.example"] || m.Fallen[0].Share != 1.5 || m.Fallen[0].PreviousShare != 30 {
		t.Errorf("fallen %+v, want c.example (%s) 30%% → 1.5%%", m.Fallen, ids["c.example"])
	}
	if m.Tested != 3 || m.TooFew != 1 {
		t.Errorf("tested %d, too few %d; want 3 (a, b, c) and 1 (d)", m.Tested, m.TooFew)
	}
	if len(m.Entered) != 1 || m.Entered[0] != ids["d.example"] || len(m.Left) != 1 || m.Left[0] != ids["c.example"] {
		t.Errorf("entered the top 3: %v, left it: %v; want d.example (%s) and c.example (%s)", m.Entered, m.Left, ids["d.example"], ids["c.example"])
	}

	february, _ := period.Parse("2005-02")
	if _, err := res.Movers(ctx, s, february, 3, query.DefaultMoverRule); !errors.Is(err, campaign.ErrEmptyComparison) {
		t.Errorf("against an empty February: %v, want ErrEmptyComparison", err)
	}
	may, _ := period.Parse("2005-05")
	if _, err := res.Movers(ctx, s, may, 3, query.DefaultMoverRule); err == nil {
		t.Error("against May, after the history grouped (April's end): no error")
	}
}
