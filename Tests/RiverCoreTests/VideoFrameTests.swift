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

@Test func sizesFitInsideABoxWithTheirAspectAndNeverGrow() {
    let box = FrameSize(width: 256, height: 192)
    #expect(FrameSize(width: 640, height: 480).fitted(into: box) == box)
    #expect(FrameSize(width: 1280, height: 720).fitted(into: box) == FrameSize(width: 256, height: 144))
    #expect(FrameSize(width: 480, height: 640).fitted(into: box) == FrameSize(width: 144, height: 192))
    #expect(FrameSize(width: 641, height: 481).fitted(into: box) == box)
    #expect(FrameSize(width: 200, height: 100).fitted(into: box) == FrameSize(width: 200, height: 100))
    #expect(FrameSize(width: 4000, height: 1).fitted(into: box) == FrameSize(width: 256, height: 1))
    #expect(FrameSize(width: 0, height: 10).fitted(into: box) == FrameSize(width: 0, height: 10))
}
