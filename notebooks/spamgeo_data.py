"""What the notebooks share: a period's messages per country, continent or network, read from
ClickHouse or from a `spamgeo export` file, and their shares named as `spamgeo report` names them.

ClickHouse is reached over HTTP: SPAMGEO_CLICKHOUSE_HTTP_ADDR (host:port, default 127.0.0.1:8123),
SPAMGEO_CLICKHOUSE_USER (default "default") and SPAMGEO_CLICKHOUSE_PASSWORD.
"""
import math
import os
import pathlib

import pandas as pd
import pyarrow.dataset as ds

# names.csv is written from Go (report.Namer); cmd/spamgeo/TestNotebookNames fails when it is stale.
_names = pd.read_csv(pathlib.Path(__file__).with_name('names.csv'), dtype=str, keep_default_na=False)
NAMES = {(g, c): n for g, c, n in _names.itertuples(index=False)}

# Tables print shares with two decimals, rounded as the tables of `spamgeo report` round them
# (correctly, from the exact value; DataFrame.round(2) rounds 0.445 down).
pd.set_option('display.float_format', '{:.2f}'.format)

KEYS = {'country': 'country_code', 'continent': 'continent_code', 'asn': 'asn'}


def period_bounds(period):
    """'2005-04-01..2005-09-30' (first and last day, UTC; one day alone too) as [start, end)."""
    first, _, last = period.partition('..')
    return pd.Timestamp(first, tz='UTC'), pd.Timestamp(last or first, tz='UTC') + pd.Timedelta(days=1)


def months(period):
    """Every month the period touches, as a pandas PeriodIndex."""
    start, end = period_bounds(period)
    return pd.period_range(start.tz_convert(None), end.tz_convert(None) - pd.Timedelta(days=1), freq='M')


def name(by, code, org=''):
    """The display name of a group: from names.csv, else a network's organisation or AS number."""
    if (by, code) in NAMES:
        return NAMES[by, code]
    if by == 'asn':
        return org or 'AS' + code
    return code


def quoted(share):
    """A share as the sentences of `spamgeo report` quote it: one decimal, halves rounded up."""
    return f'{math.floor(share * 10 + 0.5) / 10:.1f}%'


def connect(database):
    import clickhouse_connect
    host, _, port = os.environ.get('SPAMGEO_CLICKHOUSE_HTTP_ADDR', '127.0.0.1:8123').rpartition(':')
    return clickhouse_connect.get_client(host=host, port=int(port), database=database,
                                         username=os.environ.get('SPAMGEO_CLICKHOUSE_USER', 'default'),
                                         password=os.environ.get('SPAMGEO_CLICKHOUSE_PASSWORD', ''))


def messages(source, period, by, database='spamgeo', monthly=False):
    """Messages per group of the period (by: country, continent or asn), per month too when
    monthly: from ClickHouse's day rollups when source is 'clickhouse', else from the events of
    the export file at that path. Columns: [month,] code, org (networks only), messages."""
    start, end = period_bounds(period)
    if source == 'clickhouse':
        return _from_clickhouse(connect(database), by, start, end, monthly)
    return _from_export(source, by, start, end, monthly)


def _from_clickhouse(client, by, start, end, monthly):
    # Only identifiers from the fixed lists above go into the SQL text; values are bound.
    month = 'toStartOfMonth(t) AS month, ' if monthly else ''
    org, table = ('anyMerge(as_org)', 'rollup_asn_day') if by == 'asn' else ("''", 'rollup_country_day')
    sql = (f'SELECT {month}toString({KEYS[by]}) AS code, {org} AS org, countMerge(messages) AS messages '
           f'FROM {table} '
           "WHERE t >= toDateTime(%(start)s, 'UTC') AND t < toDateTime(%(end)s, 'UTC') "
           f"GROUP BY {'month, ' if monthly else ''}code")
    t = client.query_df(sql, parameters={'start': start.strftime('%Y-%m-%d %H:%M:%S'),
                                         'end': end.strftime('%Y-%m-%d %H:%M:%S')})
    if monthly:
        t['month'] = pd.to_datetime(t.month).dt.to_period('M')
    return t.astype({'messages': 'int64'})


def _from_export(path, by, start, end, monthly):
    arrow = path.endswith(('.arrow', '.feather', '.ipc'))
    when = ds.field('received_at')
    columns = ['received_at', KEYS[by]] + (['as_org'] if by == 'asn' else [])
    t = ds.dataset(path, format='ipc' if arrow else 'parquet').to_table(
        columns=columns, filter=(when >= start) & (when < end)).to_pandas()
    t['code'] = t[KEYS[by]].astype(str)
    t['org'] = t.as_org if by == 'asn' else ''
    keys = ['code']
    if monthly:
        t['month'] = t.received_at.dt.tz_convert(None).dt.to_period('M')
        keys = ['month', 'code']
    return t.groupby(keys).agg(org=('org', 'first'), messages=('code', 'size')).reset_index()


def shares(counts, by):
    """Each group's share of ALL the period's messages (the period's total is the denominator,
    as in `spamgeo report`), largest first and ranked from 1, with its name; networks' codes read
    AS64500."""
    t = counts.assign(share_pct=100 * counts.messages / counts.messages.sum())
    t['name'] = [name(by, c, o) for c, o in zip(t.code, t.org)]
    if by == 'asn':
        t['code'] = 'AS' + t.code
    t = t.sort_values(['messages', 'code'], ascending=[False, True], ignore_index=True)
    t.index = pd.RangeIndex(1, len(t) + 1, name='rank')
    return t[['code', 'name', 'messages', 'share_pct']]
