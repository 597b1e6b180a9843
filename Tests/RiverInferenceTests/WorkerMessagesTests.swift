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

    @Test func hostileHeadersAreRefusedNotTrapped() throws {
        let engine = try InferenceEngine(modelPath: try Fixtures.tinyModel("yolov5_tiny.onnx"))
        let headers = [
            #"{"id":1,"stream":"","width":9223372036854775807,"height":2,"format":2,"strides":[6],"offsets":[0],"rtpTimestamp":0}"#,
            #"{"id":2,"stream":"","width":2,"height":2,"format":2,"strides":[4611686018427387904],"offsets":[0],"rtpTimestamp":0}"#,
            #"{"id":3,"stream":"","width":2,"height":2,"format":2,"strides":[6],"offsets":[-5],"rtpTimestamp":0}"#,
            #"{"id":4,"stream":"","width":2,"height":2,"format":9,"strides":[6],"offsets":[0],"rtpTimestamp":0}"#,
            #"{"id":5,"stream":"","width":2,"height":-2,"format":1,"strides":[2,1,1],"offsets":[0,4,5],"rtpTimestamp":0}"#,
        ]
        for header in headers {
            let reply = engine.process(header: Array(header.utf8), pixels: [UInt8](repeating: 0, count: 12))
            #expect(reply.result == nil && reply.error != nil, "\(header)")
        }
        // Random mutations of a valid header: every one is answered, none crashes the worker.
        let valid = Array(InferenceRequest(id: 1, frame: Fixtures.wideFrame()).encodedHeader())
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            var header = valid
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                header[Int.random(in: 0..<header.count, using: &generator)] = UInt8.random(
                    in: 0...255, using: &generator)
            }
            let reply = engine.process(header: header, pixels: Fixtures.wideFrame().data)
            #expect((reply.result == nil) != (reply.error == nil))
        }
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
