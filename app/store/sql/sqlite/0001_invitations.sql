-- Invitation codes. Only the keyed hash of a code is stored, never the code.
-- Times are Unix seconds (UTC).
CREATE TABLE invites (
    id TEXT PRIMARY KEY,
    code_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    max_uses INTEGER NOT NULL CHECK (max_uses >= 1),
    -- Changed only together with an invite_redemptions row, in one statement or
    -- transaction; the CHECK is the last line of defence against over-redemption.
    uses INTEGER NOT NULL DEFAULT 0 CHECK (uses >= 0 AND uses <= max_uses),
    revoked_at INTEGER,
    email TEXT,
    domain TEXT,
    claims TEXT NOT NULL DEFAULT '{}',
    note TEXT NOT NULL DEFAULT '',
    CHECK (email IS NULL OR domain IS NULL)
);

-- One row per redeemer: the key makes a retry by the same redeemer find its earlier
-- redemption instead of using another; the hash only recognises, it reveals nothing.
CREATE TABLE invite_redemptions (
    invite_id TEXT NOT NULL REFERENCES invites (id) ON DELETE CASCADE,
    redeemer TEXT NOT NULL,
    redeemed_at INTEGER NOT NULL,
    PRIMARY KEY (invite_id, redeemer)
) WITHOUT ROWID;

-- A redemption is one INSERT; this trigger takes the use within that same statement, so
-- the use count and the redeemer rows can never disagree.
CREATE TRIGGER invite_redemptions_take_use AFTER INSERT ON invite_redemptions
BEGIN
    UPDATE invites SET uses = uses + 1 WHERE id = NEW.invite_id;
END;
