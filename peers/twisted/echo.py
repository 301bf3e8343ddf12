"""echo — a framed echo server as a Twisted programmer writes it: the stock
twisted.protocols.basic.Int32StringReceiver (a 4-byte big-endian length prefix, Erlang
{packet,4}) whose stringReceived() calls sendString(), with its default MAX_LENGTH, and
twisted.protocols.policies.TimeoutMixin for the idle timeout. Not written for framespec: a peer
to judge.

Run: /usr/bin/python3 echo.py PORT [IDLE_SECONDS] [--fixed]      (Debian python3-twisted)

--fixed applies what peers/twisted/README.md says a user should change: a listen backlog of 1024
(listenTCP's default is 50); MAX_LENGTH set to the
maximum the server promises (16 MiB); the protocol provides IHalfCloseableProtocol, so that a
peer's FIN calls readConnectionLost() and loseConnection() there closes after the queued echoes
are written; and the transport is registered as its own streaming producer, so that it stops
reading while its write buffer is full (pauseProducing) and reads again when it drained; and a
"before shutdown" system event trigger (reactor.addSystemEventTrigger) that, when SIGTERM stops
the reactor, stops listening and half-closes every connection with loseWriteConnection() (FIN
after the buffered echoes), discards what the peer still sends, and returns a Deferred that
fires when each connection is lost (at most GRACE seconds), so the reactor waits for them.
"""
import sys

from twisted.internet import defer, interfaces, protocol, reactor
from twisted.protocols import basic, policies
from zope.interface import implementer

IDLE = 0
GRACE = 3
live = set()  # --fixed: the open connections, for SIGTERM
FIXED = "--fixed" in sys.argv[2:]
for a in sys.argv[2:]:
    if a != "--fixed":
        IDLE = int(a)


class Echo(basic.Int32StringReceiver, policies.TimeoutMixin):
    def connectionMade(self):
        if IDLE:
            self.setTimeout(IDLE)

    def dataReceived(self, data):
        if IDLE:
            self.resetTimeout()
        basic.Int32StringReceiver.dataReceived(self, data)

    def stringReceived(self, string):
        self.sendString(string)

    def timeoutConnection(self):
        self.transport.loseConnection()


@implementer(interfaces.IHalfCloseableProtocol)
class FixedEcho(Echo):
    MAX_LENGTH = 16 << 20

    def connectionMade(self):
        Echo.connectionMade(self)
        self.stopping = False
        self.lost = defer.Deferred()
        live.add(self)
        self.transport.registerProducer(self.transport, True)

    def dataReceived(self, data):
        if not self.stopping:  # after SIGTERM: read and discard until the peer's FIN
            Echo.dataReceived(self, data)

    def connectionLost(self, reason):
        self.setTimeout(None)
        live.discard(self)
        self.lost.callback(None)

    def stop(self):
        self.stopping = True
        self.transport.unregisterProducer()
        self.transport.loseWriteConnection()
        self.setTimeout(GRACE)  # a peer that never sends its FIN: timeoutConnection
        return self.lost

    def readConnectionLost(self):
        self.transport.unregisterProducer()
        self.transport.loseConnection()

    def writeConnectionLost(self):
        pass


class Factory(protocol.ServerFactory):
    protocol = FixedEcho if FIXED else Echo


# --fixed: a listen backlog for a burst of connections (listenTCP's default is 50)
port = reactor.listenTCP(int(sys.argv[1]), Factory(), backlog=1024 if FIXED else 50,
                         interface="127.0.0.1")
if FIXED:
    def graceful_stop():
        port.stopListening()
        return defer.DeferredList([p.stop() for p in list(live)])

    reactor.addSystemEventTrigger("before", "shutdown", graceful_stop)
print("listening on 127.0.0.1:%s" % sys.argv[1], flush=True)
reactor.run()
