package geoip

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/spamgeo/spamgeo/internal/geoip/geoiptest"
	"github.com/spamgeo/spamgeo/internal/testenv"
)

// The flat IPv4 table gives the same answer as the file's search tree for every address tried:
// the first and last address of every network and of every gap between them, their neighbours,
// and a million random addresses; on the test world in both layouts and, when make bench has
// fetched it, on the real DB-IP country file.
func TestIPv4TableAnswersAsTheTree(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{"geoip2": filepath.Join(dir, "geoip2.mmdb"), "flat": filepath.Join(dir, "flat.mmdb")}
	geoiptest.WriteCountryDB(t, files["geoip2"], geoiptest.World(), geoiptest.GeoIP2)
	geoiptest.WriteCountryDB(t, files["flat"], geoiptest.World(), geoiptest.Flat)
	real := testenv.Local(t, "geoip", "dbip-country.mmdb")
	if _, err := os.Stat(real); err == nil {
		files["dbip"] = real
	}
	for name, path := range files {
		r, keys, err := openChecked(path)
		if err != nil {
			t.Fatal(err)
		}
		decode := decodeFlat
		if keys["country"] || keys["registered_country"] {
			decode = decodeGeoIP2
		}
		table, err := newIPv4Table(r, decode)
		if err != nil {
			t.Fatal(err)
		}
		tree := func(a netip.Addr) (countryAnswer, bool) {
			res := r.Lookup(a)
			if err := res.Err(); err != nil {
				t.Fatal(err)
			}
			if !res.Found() {
				return countryAnswer{}, false
			}
			ans, err := decode(res)
			if err != nil {
				t.Fatal(err)
			}
			return ans, true
		}
		var addrs []uint32
		for i, s := range table.starts {
			addrs = append(addrs, s, s-1, s+1)
			if i+1 < len(table.starts) {
				addrs = append(addrs, table.starts[i+1]-1)
			}
		}
		rng := rand.New(rand.NewPCG(1, 2))
		for range 1_000_000 {
			addrs = append(addrs, rng.Uint32())
		}
		addrs = append(addrs, 0, 1<<32-1)
		differ := 0
		for _, v := range addrs {
			var b [4]byte
			binary.BigEndian.PutUint32(b[:], v)
			a := netip.AddrFrom4(b)
			got, gotOK := table.lookup(a)
			want, wantOK := tree(a)
			if got != want || gotOK != wantOK {
				if differ++; differ <= 5 {
					t.Errorf("%s: %s: table %+v (%v), tree %+v (%v)", name, a, got, gotOK, want, wantOK)
				}
			}
		}
		t.Logf("%s: %d ranges, %d distinct answers, %d addresses compared, %d differ", name, len(table.starts), len(table.values), len(addrs), differ)
		r.Close()
	}
}
