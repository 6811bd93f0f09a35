-- Invitation codes. Only the keyed hash of a code is stored, never the code.
-- Times are Unix seconds (UTC).
CREATE TABLE invites (
    id TEXT PRIMARY KEY,
    code_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    max_uses INTEGER NOT NULL CHECK (max_uses >= 1),
    revoked_at INTEGER,
    email TEXT,
    domain TEXT,
    claims TEXT NOT NULL DEFAULT '{}',
    note TEXT NOT NULL DEFAULT '',
    CHECK (email IS NULL OR domain IS NULL)
);

-- One row per redeemer: the row count is the use count, so a redemption is a single
-- INSERT and cannot be half-recorded; the key makes a retry find its earlier row.
CREATE TABLE invite_redemptions (
    invite_id TEXT NOT NULL REFERENCES invites (id) ON DELETE CASCADE,
    redeemer TEXT NOT NULL,
    redeemed_at INTEGER NOT NULL,
    PRIMARY KEY (invite_id, redeemer)
) WITHOUT ROWID;
