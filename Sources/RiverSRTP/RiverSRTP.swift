// RiverSRTP: SRTP/SRTCP sessions on libsrtp2, keyed from DTLS (RFC 3711, RFC 7714).
// See DESIGN.md for how this module fits the data path.
