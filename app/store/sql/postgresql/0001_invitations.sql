-- Invitation codes. Only the keyed hash of a code is stored, never the code.
CREATE TABLE invites (
    id text PRIMARY KEY,
    code_hash text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL,
    expires_at timestamptz,
    max_uses integer NOT NULL CHECK (max_uses >= 1),
    -- Changed only together with an invite_redemptions row, in one statement or
    -- transaction; the CHECK is the last line of defence against over-redemption.
    uses integer NOT NULL DEFAULT 0 CHECK (uses >= 0 AND uses <= max_uses),
    revoked_at timestamptz,
    email text,
    domain text,
    claims jsonb NOT NULL DEFAULT '{}',
    note text NOT NULL DEFAULT '',
    CHECK (email IS NULL OR domain IS NULL)
);

-- One row per redeemer: the key makes a retry by the same redeemer find its earlier
-- redemption instead of using another; the hash only recognises, it reveals nothing.
CREATE TABLE invite_redemptions (
    invite_id text NOT NULL REFERENCES invites (id) ON DELETE CASCADE,
    redeemer text NOT NULL,
    redeemed_at timestamptz NOT NULL,
    PRIMARY KEY (invite_id, redeemer)
);
