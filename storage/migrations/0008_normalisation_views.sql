-- The normalisations of report --per, for SQL and Grafana: the country dataset (population and
-- Internet users) in ClickHouse, each country's messages per million people and Internet users
-- per month, and the address space of each GeoIP build read without FINAL.

-- Population and Internet users per country. spamgeo migrate loads the built-in dataset
-- (internal/countries/population.csv) after every run, or the CSV its --population names; each
-- load is one loaded_at, and country_population_current reads the latest load only, so a
-- dataset without a country leaves that country without data rather than with an older figure.
-- A count is 0 where the dataset has none.
CREATE TABLE IF NOT EXISTS country_population
(
    country_code    String,
    population      UInt64,
    population_year UInt16,
    internet_users  UInt64,
    internet_year   UInt16,
    source          String,
    loaded_at       DateTime('UTC')
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(loaded_at)
ORDER BY (loaded_at, country_code);

CREATE VIEW IF NOT EXISTS country_population_current AS
SELECT country_code, population, population_year, internet_users, internet_year, source, loaded_at
FROM country_population
WHERE loaded_at = (SELECT max(loaded_at) FROM country_population);

-- One row per month and country: messages, and per million people and Internet users of the
-- current dataset (NULL where it has no figure: a country without data is never a 0). Unique
-- sources are not here: they do not add up over months (report --per counts them per period).
CREATE VIEW IF NOT EXISTS monthly_country_per_capita AS
SELECT month, country_code, messages, population, internet_users,
       1e6 * messages / nullIf(population, 0) AS messages_per_million_people,
       1e6 * messages / nullIf(internet_users, 0) AS messages_per_million_internet_users
FROM
(
    SELECT toDate(t) AS month, country_code, countMerge(messages) AS messages
    FROM rollup_country_month
    GROUP BY month, country_code
) AS m
ANY LEFT JOIN
(
    SELECT country_code, population, internet_users
    FROM country_population
    WHERE loaded_at = (SELECT max(loaded_at) FROM country_population)
) AS p USING country_code;

-- The address space of each GeoIP build, kind and key, as last stored. Two enrichers storing one
-- build, or a build stored again, leave copies; argMax keeps one even where the copies sit on
-- different shards of a cluster (FINAL merges within one server only).
CREATE VIEW IF NOT EXISTS geoip_address_space AS
SELECT geoip_build, kind, key,
       argMax(ipv4_addresses, computed_at) AS ipv4_addresses,
       argMax(ipv6_nets64, computed_at) AS ipv6_nets64,
       max(computed_at) AS stored_at
FROM address_space
GROUP BY geoip_build, kind, key;
