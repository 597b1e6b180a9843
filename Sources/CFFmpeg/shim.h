// FFmpeg for river: H264 decoding and re-encoding (libavcodec), pixel conversion (libswscale), image
// files and recordings (libavformat).
#ifndef RIVER_CFFMPEG_SHIM_H
#define RIVER_CFFMPEG_SHIM_H
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libavutil/imgutils.h>
#include <libavutil/error.h>
#include <libavutil/md5.h>
#include <libavutil/log.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

/// AVERROR(e) is a function-like macro.
static inline int river_AVERROR(int e) { return AVERROR(e); }
static inline int river_AVERROR_EOF(void) { return AVERROR_EOF; }
static inline int river_AVERROR_EAGAIN(void) { return AVERROR(EAGAIN); }

/// Writes the message for an FFmpeg error code into `buf` (av_err2str is a macro with a compound literal).
static inline const char *river_av_strerror(int code, char *buf, size_t size) {
    av_strerror(code, buf, size);
    return buf;
}
#endif
