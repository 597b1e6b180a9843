// RiverICE: STUN messages with MESSAGE-INTEGRITY and FINGERPRINT (RFC 8489), the ICE-lite responder (RFC 8445 §2.5) and consent freshness (RFC 7675).
// See DESIGN.md for how this module fits the data path.
