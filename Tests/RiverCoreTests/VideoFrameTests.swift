import Testing

@testable import RiverCore

@Test func packedI420HasHalfSizeChromaRoundedUp() {
    let frame = VideoFrame(packedWidth: 5, height: 3, format: .i420)
    #expect(frame.strides == [5, 3, 3])
    #expect(frame.offsets == [0, 15, 21])
    #expect(frame.data.count == 15 + 6 + 6)
}

@Test func packedRGBIsOnePlane() {
    let frame = VideoFrame(packedWidth: 4, height: 2, format: .rgb24)
    #expect(frame.strides == [12])
    #expect(frame.data.count == 24)
}

@Test func planesThatOverrunTheBufferAreRefused() {
    #expect(throws: VideoFrameError.self) {
        try VideoFrame(
            width: 4, height: 4, format: .rgb24, strides: [12], offsets: [0],
            data: [UInt8](repeating: 0, count: 47))
    }
    #expect(throws: VideoFrameError.self) {
        try VideoFrame(
            width: 4, height: 4, format: .i420, strides: [4], offsets: [0],
            data: [UInt8](repeating: 0, count: 100))
    }
    #expect(throws: Never.self) {
        try VideoFrame(
            width: 4, height: 4, format: .rgb24, strides: [16], offsets: [0],
            data: [UInt8](repeating: 0, count: 60))
    }
}
