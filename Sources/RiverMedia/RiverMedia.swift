// RiverMedia: H264 decoding with libavcodec, pixel conversion with libswscale, image files, and the
// recordings' MP4s (libavformat; libx264 for `river annotate`).
// See DESIGN.md for how this module fits the data path.
