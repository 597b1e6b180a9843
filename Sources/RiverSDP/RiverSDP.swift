// RiverSDP: SDP parse/serialise and offer/answer negotiation (RFC 8866, RFC 8829): codecs, fmtp, BUNDLE, rtcp-mux.
// See DESIGN.md for how this module fits the data path.
