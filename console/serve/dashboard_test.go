package serve_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/spamgeo/spamgeo/console/serve"
	"github.com/spamgeo/spamgeo/internal/testenv"
)

// The built-in dashboard in headless Chromium (Debian's package) on the real ClickHouse: the page
// loads, the map colours the countries of the test data, the chart and the table render, and
// choosing another period updates them; the server's Content-Security-Policy blocks nothing the
// page needs (issue 18, finding 14). The screenshot (PNG) is kept in .local/artifacts/dashboard.png.
func TestDashboardInChromium(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("SPAMGEO_INTEGRATION") == "1" {
			t.Fatal("chromium is not installed: deploy/chromium.sh install (make test runs it)")
		}
		t.Skip("chromium is not installed")
	}
	conn := testData(t)
	s := serve.New(serve.DefaultConfiguration(), serve.Dependencies{ClickHouse: conn, Registry: prometheus.NewRegistry(), Logger: testenv.Logger(t)})
	// Choosing "the period before" asks for May 2004 against April before the reader picks 2003: that
	// answer is held back so it arrives last, and the page must still show 2003.
	handler := s.Handler()
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if q := r.URL.Query(); q.Get("period") == "2004-05" && q.Get("compare") == "previous" {
			time.Sleep(time.Second)
		}
		handler.ServeHTTP(w, r)
	}))
	defer web.Close()

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox,
		chromedp.WindowSize(1200, 1000))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	type css = chromedp.CSS
	// Every Content-Security-Policy violation of the page, from before its first element on.
	watchCSP := chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
			Source: `window.cspViolations = []; document.addEventListener("securitypolicyviolation",
				(e) => cspViolations.push(e.effectiveDirective + " blocked " + (e.blockedURI || "inline") + " at " + e.sourceFile + ":" + e.lineNumber));`})
		return err
	})
	// Without a period in its address the page opens on the latest month that has messages, and
	// the live view refreshes every second (?refresh=1), here with nothing in the last 24 hours.
	if err := chromedp.Do(ctx, watchCSP, chromedp.Navigate(web.URL+"/?refresh=1"),
		chromedp.WaitVisible(css(`body[data-period="2005-05-01..2005-05-31"][data-live-total="0"]`))); err != nil {
		t.Fatal(err)
	}
	opened, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify([location.search, document.querySelectorAll("#legend .swatch").length,
		document.querySelector("#legend").textContent, document.querySelector("#download-csv").href])`))
	if err != nil {
		t.Fatal(err)
	}
	if want := `["?period=2005-05&compare=year",6,"0%75.00%no messages","` + web.URL + `/api/v1/report?period=2005-05&compare=year&by=country&top=12&format=csv"]`; opened != want {
		t.Errorf("opened on [URL query, legend swatches, legend text, CSV link] = %s\nwant %s", opened, want)
	}
	// Four messages a period are too few for the movers' test: it says so by naming none.
	if movers, err := chromedp.Run(ctx, chromedp.Text(css(`#movers`))); err != nil || !strings.Contains(movers, "two-proportion z-test") || !strings.Contains(movers, "rose none; fell none") {
		t.Errorf("movers line %q (%v)", movers, err)
	}
	// Per Internet user, four messages a country are too few to rank: the countries are named
	// under an empty table, not ranked at 0; per IPv4 address, with no address space stored for
	// the test data's GeoIP build, the section says why and the rest of the page stays.
	normal, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify([document.querySelectorAll("#normalised-table tbody tr").length,
		document.querySelector("#normalised-unranked").textContent, document.querySelector("#normalised-unit").textContent,
		document.querySelector("#normalised-method").textContent.startsWith("Messages (and approximate unique sources) per million Internet users")])`))
	if err != nil {
		t.Fatal(err)
	}
	if want := `[0,"Listed, not ranked — too few messages to rank: China, United States.","Messages per million Internet users",true]`; normal != want {
		t.Errorf("per Internet user: [rows, unranked, unit, methodology] = %s\nwant %s", normal, want)
	}
	if err := chromedp.Do(ctx, chromedp.SetValue(css(`#per`), "address-space"),
		chromedp.WaitVisible(css(`body[data-per="address-space"]`))); err != nil {
		t.Fatal(err)
	}
	perAddress, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify([document.querySelector("#normalised-summary").textContent.startsWith("Not available for this period: no address space stored"),
		document.querySelectorAll("#normalised-table tbody tr").length, document.querySelectorAll("#table tbody tr").length, location.search])`))
	if err != nil {
		t.Fatal(err)
	}
	if perAddress != `[true,0,2,"?period=2005-05&compare=year&per=address-space"]` {
		t.Errorf("per IPv4 address without address space: [says why, rows, share table rows, URL query] = %s", perAddress)
	}
	download, err := chromedp.Run(ctx, chromedp.Evaluate[string](`fetch(document.querySelector("#download-bars").href).then((r) => r.headers.get("content-type") + " " + r.headers.get("content-disposition"))`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if download != `image/png attachment; filename="spamgeo-country-2005-05-01..2005-05-31.png"` {
		t.Errorf("the bar chart download link answers %q", download)
	}
	cn, err := chromedp.Run(ctx, chromedp.AttributeValue(css(`#map path[id="cn"]`), "data-share"))
	if err != nil {
		t.Fatal(err)
	}
	firstRow, err := chromedp.Run(ctx, chromedp.Text(css(`#table tbody tr:first-child`)))
	if err != nil {
		t.Fatal(err)
	}
	canvases, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#chart canvas").length`))
	if err != nil {
		t.Fatal(err)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.SetValue(css(`#period`), "2004-05"), chromedp.Click(css(`#show`)),
		chromedp.WaitVisible(css(`body[data-period="2004-05-01..2004-05-31"]`))); err != nil {
		t.Fatal(err)
	}
	us, err := chromedp.Run(ctx, chromedp.AttributeValue(css(`#map path[id="us"]`), "data-share"))
	if err != nil {
		t.Fatal(err)
	}
	firstRowBefore, err := chromedp.Run(ctx, chromedp.Text(css(`#table tbody tr:first-child`)))
	if err != nil {
		t.Fatal(err)
	}
	// Rows by continent: the table follows, the map still shows countries.
	if err := chromedp.Do(ctx, chromedp.SetValue(css(`#by`), "continent"),
		chromedp.WaitVisible(css(`body[data-period="2004-05-01..2004-05-31"][data-by="continent"]`))); err != nil {
		t.Fatal(err)
	}
	continents, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify([document.querySelector("#group-heading").textContent,
		[...document.querySelectorAll("#table tbody tr td:nth-child(2)")].map((td) => td.textContent), document.querySelectorAll("#map path[data-share]").length])`))
	if err != nil {
		t.Fatal(err)
	}
	if continents != `["Continent",["North America","Asia"],2]` {
		t.Errorf("by continent: [heading, rows, shaded countries] = %s", continents)
	}
	// An empty period clears the map, the table and the chart, without a JavaScript error.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.errs = []; addEventListener("error", (e) => errs.push(e.message));
		addEventListener("unhandledrejection", (e) => errs.push(String(e.reason))); true`)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.SetValue(css(`#compare`), "previous"), chromedp.SetValue(css(`#period`), "2003"), chromedp.Click(css(`#show`)),
		chromedp.WaitVisible(css(`body[data-period="2003-01-01..2003-12-31"]`))); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // until the held-back answer has arrived
	empty, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify([document.querySelectorAll("#map path[data-share]").length,
		document.querySelectorAll("#table tbody tr").length, document.querySelectorAll("#chart canvas").length, errs, location.search,
		document.querySelectorAll("#table th.compare:not([hidden])").length, document.querySelector("#summary").textContent.includes("no changes are shown") && document.querySelector("#movers").textContent === ""])`))
	if err != nil {
		t.Fatal(err)
	}
	if empty != `[0,0,0,[],"?period=2003&compare=previous&by=continent&per=address-space",0,true]` {
		t.Errorf("after choosing the empty 2003 against an empty 2002: [shaded countries, table rows, chart canvases, errors, URL query, comparison columns shown, note shown] = %s", empty)
	}
	emptyShot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	// The live view picks up a message stored now within a refresh or two.
	insertEvent(t, conn, time.Now().UTC().Format(time.DateTime), "DE")
	if err := chromedp.Do(ctx, chromedp.WaitVisible(css(`body[data-live-total="1"]`))); err != nil {
		t.Fatal(err)
	}
	liveRow, err := chromedp.Run(ctx, chromedp.Text(css(`#live-countries tbody tr:first-child`)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(liveRow, "Germany") || !strings.Contains(liveRow, "100.00%") {
		t.Errorf("live view's first country after a message from Germany: %q", liveRow)
	}
	liveShot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	violations, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`cspViolations`))
	if err != nil {
		t.Fatal(err)
	}
	if len(violations) > 0 {
		t.Errorf("the Content-Security-Policy blocked parts of the page: %q", violations)
	}
	cnShare, usShare := cn.Value, us.Value
	if cnShare != "75" || canvases == 0 || !strings.Contains(firstRow, "China") || !strings.Contains(firstRow, "75.00%") {
		t.Errorf("May 2005: China's map share %q, chart canvases %d, first row %q", cnShare, canvases, firstRow)
	}
	if usShare != "75" || !strings.Contains(firstRowBefore, "United States") {
		t.Errorf("after choosing May 2004: US map share %q, first row %q", usShare, firstRowBefore)
	}
	dir := testenv.Local(t, "artifacts")
	if err := os.MkdirAll(dir, 0o755); err == nil {
		os.WriteFile(filepath.Join(dir, "dashboard.png"), shot, 0o644)
		os.WriteFile(filepath.Join(dir, "dashboard-empty-period.png"), emptyShot, 0o644)
		os.WriteFile(filepath.Join(dir, "dashboard-live.png"), liveShot, 0o644)
	}
}
