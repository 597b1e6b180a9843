// RiverDTLS: A DTLS 1.2 server endpoint on OpenSSL over in-memory datagrams, with use_srtp (RFC 5764) and keying-material export.
// See DESIGN.md for how this module fits the data path.
