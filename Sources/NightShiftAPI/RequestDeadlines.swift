import Metrics
import NIOCore
import NIOHTTPTypes

/// Closes a connection whose client is too slow, whatever it sends: the request head (request line
/// and headers; with TLS, the handshake too) must be complete within `head` of the connection
/// opening or of the previous response, and the body within `body` of the head. A client sending one
/// byte a second, or promising a body it never sends, is cut off; so is a keep-alive connection
/// left idle. Counted in `nightshift_http_cut_off_total{server, phase}`.
///
/// It sits after the HTTP decoder, which limits the head's size (`HTTPLimits.headBytes`), and is
/// armed when it is added, at the connection's start.
final class RequestDeadlines: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let head: TimeAmount
    private let body: TimeAmount
    private let server: String
    private var timer: Scheduled<Void>?
    /// The response being written says `Connection: close` (a body refused, a head that could not
    /// be parsed): the connection closes once it is written, and the rest of the body is never read.
    private var closing = false

    init(head: TimeAmount, body: TimeAmount, server: String) {
        self.head = head
        self.body = body
        self.server = server
    }

    func handlerAdded(context: ChannelHandlerContext) {
        arm(context, after: head, phase: "head")
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: arm(context, after: body, phase: "body")
        case .body: break
        case .end:
            // The request is whole: the server answers at its own pace.
            timer?.cancel()
            timer = nil
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case let .head(response):
            if response.headerFields[.connection]?.lowercased() == "close" { closing = true }
        case .body: break
        case .end:
            guard closing else {
                // The next request on a kept-alive connection has the same time for its head.
                arm(context, after: head, phase: "idle")
                break
            }
            timer?.cancel()
            timer = nil
            let written = context.eventLoop.makePromise(of: Void.self)
            if let promise { written.futureResult.cascade(to: promise) }
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            written.futureResult.whenComplete { _ in bound.value.close(promise: nil) }
            context.writeAndFlush(data, promise: written)
            return
        }
        context.write(data, promise: promise)
    }

    private func arm(_ context: ChannelHandlerContext, after delay: TimeAmount, phase: String) {
        timer?.cancel()
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        let server = self.server
        timer = context.eventLoop.scheduleTask(in: delay) {
            Counter(label: "nightshift_http_cut_off_total", dimensions: [("server", server), ("phase", phase)]).increment()
            bound.value.close(promise: nil)
        }
    }
}
