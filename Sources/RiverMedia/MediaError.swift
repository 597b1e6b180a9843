import CFFmpeg

/// Why a media operation failed; each case names the step and carries FFmpeg's own message.
public enum MediaError: Error, Equatable, Sendable, CustomStringConvertible {
    /// libavcodec has no H264 decoder, or could not allocate or open one.
    case decoderUnavailable(String)
    /// libavcodec refused the access unit with this RTP timestamp.
    case decodeFailed(rtpTimestamp: UInt32, code: Int32, message: String)
    /// libavcodec decoded the unit but flagged the picture as corrupt (concealed errors).
    case corruptPicture(rtpTimestamp: UInt32)
    /// swscale could not convert between these formats or sizes.
    case conversionFailed(String)
    /// The stream's pictures are larger than the decoder's ``H264Decoder/maxPixels``; the unit was
    /// refused without decoding it.
    case tooManyPixels(rtpTimestamp: UInt32, width: Int, height: Int, limit: Int)
    /// A recording (``FragmentedMP4Writer``) could not be created or written: the file and why.
    case recordingFailed(String, String)

    public var description: String {
        switch self {
        case .decoderUnavailable(let why): "H264 decoder unavailable: \(why)"
        case .decodeFailed(let ts, let code, let message):
            "H264 decode failed for RTP timestamp \(ts): \(message) (\(code))"
        case .corruptPicture(let ts): "H264 picture for RTP timestamp \(ts) decoded with errors"
        case .conversionFailed(let why): "pixel conversion failed: \(why)"
        case .tooManyPixels(let ts, let width, let height, let limit):
            "H264 unit for RTP timestamp \(ts): \(width)x\(height) pictures, more than \(limit) pixels"
        case .recordingFailed(let path, let why): "recording \(path): \(why)"
        }
    }
}

/// FFmpeg's message for an error code.
func ffmpegMessage(_ code: Int32) -> String {
    var buffer = [CChar](repeating: 0, count: 128)
    return buffer.withUnsafeMutableBufferPointer { b in
        String(cString: river_av_strerror(code, b.baseAddress, b.count))
    }
}
