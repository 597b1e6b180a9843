import FuzzDriver
import RiverCore
import RiverICE

/// The responder's credentials, fixed so runs are reproducible; the seeds are signed with them.
private let localUfrag = "rvUf"
private let localPwd = "riverpasswordriverpass"
private let remoteUfrag = "brwz"
/// Addresses the fuzzer picks from (a byte's low bits): more than `maxAddresses`, both families.
private let addresses: [TransportAddress] = (0..<12).map { (i: Int) -> TransportAddress in
    if i % 3 == 2 {
        var ip: [UInt8] = [0x20, 0x01, 0x0d, 0xb8]
        ip += [UInt8](repeating: 0, count: 11)
        ip.append(UInt8(i))
        return TransportAddress(ip: ip, port: 5000)!
    }
    return TransportAddress(ip: [192, 168, 0, UInt8(i)], port: UInt16(40_000 + i))!
}

/// libFuzzer entry. The input is a run of records, each `flags`, `address`, a 2-byte length and
/// that many bytes of datagram; flags bit 0 has the harness re-sign the datagram (parsed as STUN)
/// with the responder's password, bit 1 with a wrong one, so the fuzzer reaches the paths behind
/// MESSAGE-INTEGRITY it cannot forge; bits 2–7 advance the clock in 250 ms steps.
///
/// Properties: parsing any bytes throws or yields a message that writes and parses back to the
/// same fields, and that verifies when written with a key and FINGERPRINT; `DatagramKind.classify`
/// agrees with `STUNMessage.isSTUN`; the responder never crashes, and answers only Binding
/// requests with a valid FINGERPRINT and a MESSAGE-INTEGRITY that verifies with its password, with
/// a signed success response for the same transaction naming the source address.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSTUN(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    // The first byte's low bit drops the remote ufrag, as before the offer's is known.
    let knowsRemote = input.first.map { $0 & 1 == 0 } ?? true
    var responder = ICELiteResponder(
        localUfrag: localUfrag, localPwd: localPwd, remoteUfrag: knowsRemote ? remoteUfrag : nil, now: .zero)
    var now = Instant.zero
    var i = 1
    while i + 4 <= input.count {
        let flags = input[i]
        let source = addresses[Int(input[i + 1]) % addresses.count]
        let length = min(Int(input[i + 2]) << 8 | Int(input[i + 3]), input.count - i - 4)
        var datagram = Array(input[(i + 4)..<(i + 4 + length)])
        i += 4 + length
        checkParse(datagram)
        if flags & 3 != 0, let message = try? STUNMessage(parsing: datagram) {
            let key = flags & 1 != 0 ? localPwd : "not" + localPwd
            datagram = message.serialized(integrityKey: Array(key.utf8), fingerprint: true)
        }
        now = now + .milliseconds(250 * Int(flags >> 2))
        let selectedBefore = responder.selectedAddress
        let reply = responder.handle(datagram, from: source, now: now)
        if let reply { checkReply(reply, to: datagram, from: source, selectedBefore: selectedBefore) }
        if let ufrag = ICELiteResponder.localUfrag(of: datagram) {
            precondition(STUNMessage.isSTUN(datagram), "localUfrag read a datagram that is not STUN")
            _ = ufrag
        }
    }
    return 0
}

/// Parse, classify and round-trip one datagram.
private func checkParse(_ datagram: [UInt8]) {
    let kind = DatagramKind.classify(datagram)
    let looksLikeSTUN = STUNMessage.isSTUN(datagram)
    let parsed = try? STUNMessage(parsing: datagram)
    // isSTUN is the cheap header check for demultiplexing: every message passes it (not every
    // datagram that passes it is a message: its attributes may be malformed).
    if parsed != nil { precondition(looksLikeSTUN, "a STUN message fails isSTUN") }
    guard let message = parsed else { return }
    // RFC 8489 lets the first byte be 0–63 (methods up to 0xFFF), RFC 7983's demultiplexer gives
    // STUN only 0–3 (methods up to 0xFF, all there are); the servers classify first, so a message
    // of a higher method is DTLS or ZRTP to them and never reaches the responder.
    if datagram[0] <= 3 { precondition(kind == .stun, "a STUN message classified as \(kind)") }
    // Typed accessors must not trap on any value.
    _ = (message.username, message.software, message.priority, message.useCandidate)
    _ = (message.iceControlling, message.iceControlled, message.xorMappedAddress, message.errorCode)
    let kept = message.attributes.filter {
        $0.type != STUNAttribute.Kind.messageIntegrity.rawValue
            && $0.type != STUNAttribute.Kind.fingerprint.rawValue
    }
    let plain = message.serialized()
    guard let again = try? STUNMessage(parsing: plain) else {
        preconditionFailure("the STUN writer produced bytes its parser refuses")
    }
    precondition(
        again.method == message.method && again.messageClass == message.messageClass
            && again.transactionID == message.transactionID && again.attributes == kept,
        "STUN write → parse changed the message")
    precondition(again.serialized() == plain, "STUN write → parse → write is not stable")
    let key = Array(localPwd.utf8)
    guard let signed = try? STUNMessage(parsing: again.serialized(integrityKey: key, fingerprint: true))
    else {
        preconditionFailure("a signed STUN message does not parse")
    }
    precondition(
        signed.checkIntegrity(key: key) && signed.checkFingerprint(), "a signed message does not verify")
    precondition(!signed.checkIntegrity(key: Array("x".utf8)), "integrity verified with the wrong key")
}

/// An answer is only ever for a verified Binding request, and is itself a verifiable response.
private func checkReply(
    _ reply: ICELiteResponder.Reply, to datagram: [UInt8], from source: TransportAddress,
    selectedBefore: TransportAddress?
) {
    guard let request = try? STUNMessage(parsing: datagram) else {
        preconditionFailure("answered a datagram that is not STUN")
    }
    let key = Array(localPwd.utf8)
    precondition(request.method == .binding && request.messageClass == .request, "answered a non-request")
    precondition(request.checkIntegrity(key: key), "answered a request without valid MESSAGE-INTEGRITY")
    precondition(request.checkFingerprint(), "answered a request without valid FINGERPRINT")
    precondition(request.username?.hasPrefix(localUfrag + ":") == true, "answered a request for another user")
    guard let response = try? STUNMessage(parsing: reply.response) else {
        preconditionFailure("the response does not parse")
    }
    precondition(
        response.messageClass == .successResponse && response.method == .binding
            && response.transactionID == request.transactionID, "the response is not for the request")
    precondition(
        response.checkIntegrity(key: key) && response.checkFingerprint(), "the response does not verify")
    precondition(response.xorMappedAddress == source, "the response maps another address")
    if let selected = reply.newlySelected {
        precondition(
            selected == source && request.useCandidate && selected != selectedBefore, "bad nomination")
    }
}

/// The executable's entry point (see `runLibFuzzer`).
@_cdecl("FuzzSTUN_main")
public func FuzzSTUNMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32
{
    runLibFuzzer(argc, argv) { data, size in fuzzSTUN(data!, size) }
}
