-- Invitation codes. Only the keyed hash of a code is stored, never the code.
CREATE TABLE invites (
    id text PRIMARY KEY,
    code_hash text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL,
    expires_at timestamptz,
    max_uses integer NOT NULL CHECK (max_uses >= 1),
    revoked_at timestamptz,
    email text,
    domain text,
    claims jsonb NOT NULL DEFAULT '{}',
    note text NOT NULL DEFAULT '',
    CHECK (email IS NULL OR domain IS NULL)
);

-- One row per redeemer: the row count is the use count, so a redemption is a single
-- INSERT and cannot be half-recorded; the key makes a retry find its earlier row.
CREATE TABLE invite_redemptions (
    invite_id text NOT NULL REFERENCES invites (id) ON DELETE CASCADE,
    redeemer text NOT NULL,
    redeemed_at timestamptz NOT NULL,
    PRIMARY KEY (invite_id, redeemer)
);
