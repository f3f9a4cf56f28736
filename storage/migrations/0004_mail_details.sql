-- What the trap and archive imports saw of each message (the raw event's `mail` object): how the
-- source was chosen, the decoded header fields, the body hash and the hosts of its links, the
-- trap addresses, and what was malformed. Campaign analysis groups by these. Empty for synthetic
-- events and for rows stored before this version.

-- apply-if: SELECT count() = 0 FROM system.columns WHERE database = currentDatabase() AND table = 'events' AND name = 'source_rule'
ALTER TABLE events ADD COLUMN source_rule String;

-- apply-if: SELECT count() = 0 FROM system.columns WHERE database = currentDatabase() AND table = 'events' AND name = 'subject'
ALTER TABLE events ADD COLUMN subject String;

-- apply-if: SELECT count() = 0 FROM system.columns WHERE database = currentDatabase() AND table = 'events' AND name = 'header_from'
ALTER TABLE events ADD COLUMN header_from String;

-- apply-if: SELECT count() = 0 FROM system.columns WHERE database = currentDatabase() AND table = 'events' AND name = 'message_id'
ALTER TABLE events ADD COLUMN message_id String;

-- apply-if: SELECT count() = 0 FROM system.columns WHERE database = currentDatabase() AND table = 'events' AND name = 'body_sha256'
ALTER TABLE events ADD COLUMN body_sha256 String;

-- apply-if: SELECT count() = 0 FROM system.columns WHERE database = currentDatabase() AND table = 'events' AND name = 'url_hosts'
ALTER TABLE events ADD COLUMN url_hosts Array(String);

-- apply-if: SELECT count() = 0 FROM system.columns WHERE database = currentDatabase() AND table = 'events' AND name = 'recipients'
ALTER TABLE events ADD COLUMN recipients Array(String);

-- apply-if: SELECT count() = 0 FROM system.columns WHERE database = currentDatabase() AND table = 'events' AND name = 'defects'
ALTER TABLE events ADD COLUMN defects Array(String);
