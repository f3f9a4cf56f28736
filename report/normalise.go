package report

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/spamgeo/spamgeo/internal/countries"
	"github.com/spamgeo/spamgeo/query"
)

// Normalisations are the rankings other than raw shares (report --per, the API's per).
var Normalisations = []string{PerCapitaPeople, PerCapitaInternetUser, PerAddressSpace}

// PerAddressSpace ranks by unique sending addresses per address space.
const PerAddressSpace = "address-space"

// NormalRequest asks for a ranking by one of Normalisations.
type NormalRequest struct {
	Period    query.Period
	Per       string
	Grouping  query.Grouping // country, or for address-space also asn
	Reference string         // the code multiples are of
	Top       int
	// The country dataset of capita and internet-user, and its name for the methodology line;
	// the built-in one when nil.
	Population map[string]countries.Population
	Source     string
}

// Normalised is a PerCapita or a Density ranking.
type Normalised interface {
	Write(w io.Writer, f Format) error
}

// Write writes the ranking (see WritePerCapita).
func (r PerCapita) Write(w io.Writer, f Format) error { return WritePerCapita(w, r, f) }

// Write writes the ranking (see WriteDensity).
func (d Density) Write(w io.Writer, f Format) error { return WriteDensity(w, d, f) }

// ErrNormalRequest marks a request that cannot be answered as asked.
var ErrNormalRequest = errors.New("normalisation")

// Normalise reads what req needs and ranks it.
func Normalise(ctx context.Context, r *query.Reader, req NormalRequest) (Normalised, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrNormalRequest, fmt.Sprintf(format, a...))
	}
	switch {
	case !slices.Contains(Normalisations, req.Per):
		return nil, bad("per %q is not one of %v", req.Per, Normalisations)
	case req.Top < 1:
		return nil, bad("top %d: list at least one row", req.Top)
	case req.Per == PerAddressSpace && req.Grouping != query.ByCountry && req.Grouping != query.ByASN:
		return nil, bad("per %s ranks countries or networks, not by %s", req.Per, req.Grouping)
	case req.Per != PerAddressSpace && req.Grouping != query.ByCountry:
		return nil, bad("per %s ranks countries, not by %s", req.Per, req.Grouping)
	}
	if req.Per == PerAddressSpace {
		d, err := r.AddressDensity(ctx, req.Period, req.Grouping)
		if err != nil {
			return nil, err
		}
		return NewDensity(d, Namer{}, req.Reference, req.Top), nil
	}
	if req.Population == nil {
		req.Population, req.Source = countries.BuiltinPopulation(), countries.PopulationSource
	}
	counts, err := r.Counts(ctx, query.Request{Period: req.Period, Grouping: query.ByCountry})
	if err != nil {
		return nil, err
	}
	return NewPerCapita(counts, req.Population, req.Per, req.Source, req.Reference, req.Top), nil
}
