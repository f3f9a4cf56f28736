package migrations

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/spamgeo/spamgeo/internal/countries"
	"github.com/spamgeo/spamgeo/storage/clickhousedb"
)

// LoadPopulation makes data the current load of country_population (the dataset that
// country_population_current and monthly_country_per_capita read), unless the current load
// already holds exactly data from the same source. It returns whether it stored anything.
func LoadPopulation(ctx context.Context, conn clickhousedb.Conn, data map[string]countries.Population, source string, now time.Time) (bool, error) {
	current, last, err := currentPopulation(ctx, conn)
	if err != nil {
		return false, err
	}
	if maps.Equal(current, populationRows(data, source)) {
		return false, nil
	}
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO country_population (country_code, population, population_year, internet_users, internet_year, source, loaded_at)")
	if err != nil {
		return false, fmt.Errorf("store the country dataset: %w", err)
	}
	// Strictly after the current load, so that two loads within a second never mix.
	loaded := now.UTC().Truncate(time.Second)
	if !loaded.After(last) {
		loaded = last.Add(time.Second)
	}
	for _, code := range slices.Sorted(maps.Keys(data)) {
		p := data[code]
		if err := batch.Append(code, p.People, uint16(p.PeopleYear), p.InternetUsers, uint16(p.InternetYear), source, loaded); err != nil {
			_ = batch.Abort()
			return false, fmt.Errorf("store the country dataset: %w", err)
		}
	}
	if err := batch.Send(); err != nil {
		return false, fmt.Errorf("store the country dataset: %w", err)
	}
	return true, nil
}

type populationRow struct {
	population countries.Population
	source     string
}

func populationRows(data map[string]countries.Population, source string) map[string]populationRow {
	out := make(map[string]populationRow, len(data))
	for code, p := range data {
		out[code] = populationRow{p, source}
	}
	return out
}

// currentPopulation reads the current load and when it was loaded (zero without one).
func currentPopulation(ctx context.Context, conn clickhousedb.Conn) (map[string]populationRow, time.Time, error) {
	rows, err := conn.Query(ctx, "SELECT country_code, population, population_year, internet_users, internet_year, source, loaded_at FROM country_population_current")
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("read the country dataset: %w", err)
	}
	defer rows.Close()
	out := map[string]populationRow{}
	var last time.Time
	for rows.Next() {
		var code, source string
		var people, users uint64
		var peopleYear, usersYear uint16
		if err := rows.Scan(&code, &people, &peopleYear, &users, &usersYear, &source, &last); err != nil {
			return nil, time.Time{}, err
		}
		out[code] = populationRow{countries.Population{People: people, InternetUsers: users, PeopleYear: int(peopleYear), InternetYear: int(usersYear)}, source}
	}
	return out, last, rows.Err()
}
