import Foundation
import RiverCore
import RiverInference
import RiverMedia
import Testing

@Suite struct WorkerMessagesTests {
    @Test func requestRoundTripsThroughItsTwoParts() throws {
        var frame = VideoFrame(packedWidth: 6, height: 4, format: .i420, rtpTimestamp: 90_000)
        for i in frame.data.indices { frame.data[i] = UInt8(i & 0xff) }
        let request = InferenceRequest(id: 42, stream: "session-7", frame: frame)
        let decoded = try InferenceRequest(header: request.encodedHeader(), pixels: frame.data)
        #expect(decoded.header == request.header)
        #expect(decoded.frame.data == frame.data)
    }

    @Test func processAnswersWithTheResultAndEchoesIds() throws {
        let engine = try InferenceEngine(modelPath: Fixtures.centerFace)
        var frame = try ImageFile.load(Fixtures.astronaut)
        frame.rtpTimestamp = 1234
        let request = InferenceRequest(id: 9, stream: "s", frame: frame)
        let reply = engine.process(header: request.encodedHeader(), pixels: frame.data)
        #expect(reply.id == 9 && reply.stream == "s" && reply.error == nil)
        let result = try #require(reply.result)
        #expect(result.rtpTimestamp == 1234)
        #expect(result.detections.count == 1)
        #expect(result.timings.inferenceMs > 0)
        // The reply survives its own wire format.
        #expect(try InferenceReply(decoding: reply.encoded()) == reply)
    }

    @Test func garbageGetsAnErrorReplyNotACrash() throws {
        let engine = try InferenceEngine(modelPath: try Fixtures.tinyModel("yolov5_tiny.onnx"))
        let notJSON = engine.process(header: Array("hello".utf8), pixels: [])
        #expect(notJSON.id == 0)
        #expect(notJSON.error?.contains("not a request header") == true)

        let frame = VideoFrame(packedWidth: 64, height: 64, format: .rgb24)
        let header = InferenceRequest(id: 5, frame: frame).encodedHeader()
        let short = engine.process(header: header, pixels: [UInt8](repeating: 0, count: 100))
        #expect(short.id == 5)
        #expect(short.result == nil)
        #expect(short.error?.contains("request 5") == true)
        #expect(short.error?.contains("ends at byte") == true)
    }

    @Test func expiredRequestsAreAnsweredWithoutRunning() throws {
        let engine = try InferenceEngine(modelPath: try Fixtures.tinyModel("yolov5_tiny.onnx"))
        let frame = Fixtures.wideFrame()
        let request = InferenceRequest(id: 11, stream: "s", frame: frame, deadlineUnixMs: 5_000)
        let decoded = try InferenceRequest(header: request.encodedHeader(), pixels: frame.data)
        #expect(decoded.deadlineUnixMs == 5_000)
        let late = engine.process(decoded, nowUnixMs: 5_040)
        #expect(late.expired == true && late.result == nil && late.id == 11)
        #expect(late.error == "request 11 expired 40 ms before it could run")
        let inTime = engine.process(decoded, nowUnixMs: 4_999)
        #expect(inTime.expired == nil && inTime.result?.detections.count == 4)
    }

    @Test func resultDocumentShapeIsStable() throws {
        let result = InferenceResult(
            model: "m.onnx", family: .yolov8, frame: Size(width: 4, height: 2),
            input: Size(width: 8, height: 8),
            rtpTimestamp: 3, timings: Timings(preprocessMs: 0.5, inferenceMs: 2, postprocessMs: 0.25),
            detections: [
                Detection(label: "car", classIndex: 1, score: 0.5, box: Box(x: 0, y: 0.25, w: 0.5, h: 0.75))
            ])
        #expect(
            result.jsonLine()
                == #"{"detections":[{"box":{"h":0.75,"w":0.5,"x":0,"y":0.25},"classIndex":1,"label":"car","score":0.5}],"#
                + #""family":"yolov8","frame":{"height":2,"width":4},"input":{"height":8,"width":8},"model":"m.onnx","#
                + #""rtpTimestamp":3,"timings":{"inferenceMs":2,"postprocessMs":0.25,"preprocessMs":0.5}}"#)
    }
}
