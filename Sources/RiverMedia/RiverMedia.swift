// RiverMedia: H264 decoding with libavcodec, pixel conversion with libswscale, image files.
// See DESIGN.md for how this module fits the data path.
