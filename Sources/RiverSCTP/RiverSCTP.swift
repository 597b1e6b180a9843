// RiverSCTP: SCTP over DTLS with usrsctp in AF_CONN mode (RFC 8261) and data channels with DCEP (RFC 8831, RFC 8832).
// See DESIGN.md for how this module fits the data path.
