// RiverWebRTC: The peer connection: one UDP port for all sessions (RFC 7983 demux) on SwiftNIO, gluing ICE, DTLS, SRTP, RTP and SCTP.
// See DESIGN.md for how this module fits the data path.
