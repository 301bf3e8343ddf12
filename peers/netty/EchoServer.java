// EchoServer — a framed echo server as a Netty programmer writes it, after Netty's own
// io.netty.example.echo.EchoServer (ServerBootstrap, NioEventLoopGroup, a handler whose
// channelRead writes the message back, channelReadComplete flushes, exceptionCaught closes),
// with a LengthFieldBasedFrameDecoder(maxFrameLength, 0, 4, 0, 0) in front: a 4-byte big-endian
// length (Erlang {packet,4}), the frame passed on whole with its header, so that writing it back
// is the echo. IdleStateHandler closes an idle connection. Not written for framespec: a peer to
// judge.
//
// Build: javac -cp "$(ls /usr/share/java/netty-*.jar | paste -sd:)" EchoServer.java
//        (Debian libnetty-java, default-jdk-headless)
// Run:   java -cp ... EchoServer PORT [IDLE_SECONDS] [--fixed] [--le-inclusive]
//
// --le-inclusive (peers/netty_le) swaps the framing for a non-Erlang one: a 2-byte preamble
// (echoed unchanged), then a 4-byte little-endian length that counts the whole frame (preamble +
// length field + payload), then the payload (framespec `len=4,le,offset=2,adjust=-6,
// limit=frame`), decoded by LengthFieldBasedFrameDecoder(ByteOrder.LITTLE_ENDIAN, MAX, 2, 4, -6,
// 0, true), again passed on whole. maxFrameLength is MAX in both variants: under limit=frame the
// maximum counts the header, as Netty's does, so --fixed's "+ 4" does not apply.
//
// --fixed applies what peers/netty/README.md says a user should change: maxFrameLength counts
// the header (16 MiB + 4); ALLOW_HALF_CLOSURE, and on ChannelInputShutdownEvent a flush whose
// future closes the channel; autoRead follows channelWritabilityChanged (the write buffer's
// high-water mark stops reading); exceptionCaught (an oversized frame) flushes before it closes;
// and a JVM shutdown hook (SIGTERM) closes the server channel, flushes every child channel and
// shutdownOutput()s it (FIN), discards what still arrives until the peer's FIN closes it (at most
// GRACE_MS), then shuts the event loops down.
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.LengthFieldBasedFrameDecoder;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.nio.ByteOrder;
import java.util.concurrent.TimeUnit;

public final class EchoServer {
    static final int MAX = 16 << 20;
    static int idle = 0;
    static boolean fixed = false;
    static boolean leInclusive = false;
    static final long GRACE_MS = 3000;
    static final ChannelGroup channels = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);
    static volatile boolean stopping = false;

    static final class EchoHandler extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (stopping) {
                ReferenceCountUtil.release(msg); // after SIGTERM: discard until the peer's FIN
                return;
            }
            ctx.write(msg);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.flush();
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof IdleStateEvent) {
                ctx.close();
            } else if (fixed && evt instanceof ChannelInputShutdownEvent) {
                ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
            }
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            if (fixed) {
                ctx.channel().config().setAutoRead(ctx.channel().isWritable());
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (fixed) {
                // the echoes written before the oversized frame go out before the close
                ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
            } else {
                ctx.close();
            }
        }
    }

    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        for (int i = 1; i < args.length; i++) {
            if (args[i].equals("--fixed")) {
                fixed = true;
            } else if (args[i].equals("--le-inclusive")) {
                leInclusive = true;
            } else {
                idle = Integer.parseInt(args[i]);
            }
        }
        EventLoopGroup boss = new NioEventLoopGroup(1);
        EventLoopGroup workers = new NioEventLoopGroup();
        try {
            ServerBootstrap b = new ServerBootstrap();
            b.group(boss, workers)
             .channel(NioServerSocketChannel.class)
             .option(ChannelOption.SO_BACKLOG, 1024)
             .childOption(ChannelOption.TCP_NODELAY, true)
             .childOption(ChannelOption.ALLOW_HALF_CLOSURE, fixed)
             .childHandler(new ChannelInitializer<SocketChannel>() {
                 @Override
                 public void initChannel(SocketChannel ch) {
                     if (fixed) {
                         channels.add(ch);
                     }
                     if (idle > 0) {
                         ch.pipeline().addLast(new IdleStateHandler(idle, 0, 0));
                     }
                     if (leInclusive) {
                         ch.pipeline().addLast(new LengthFieldBasedFrameDecoder(
                                 ByteOrder.LITTLE_ENDIAN, MAX, 2, 4, -6, 0, true));
                     } else {
                         ch.pipeline().addLast(new LengthFieldBasedFrameDecoder(fixed ? MAX + 4 : MAX, 0, 4, 0, 0));
                     }
                     ch.pipeline().addLast(new EchoHandler());
                 }
             });
            Channel server = b.bind("127.0.0.1", port).sync().channel();
            if (fixed) {
                Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                    stopping = true;
                    server.close().syncUninterruptibly();
                    for (Channel ch : channels) {
                        ch.writeAndFlush(Unpooled.EMPTY_BUFFER)
                          .addListener(f -> ((SocketChannel) ch).shutdownOutput());
                    }
                    channels.newCloseFuture().awaitUninterruptibly(GRACE_MS);
                    channels.close().awaitUninterruptibly(1000);
                    boss.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(2000);
                    workers.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(2000);
                }));
            }
            System.out.println("listening on 127.0.0.1:" + port);
            System.out.flush();
            b.config().group().terminationFuture().sync();
        } finally {
            boss.shutdownGracefully();
            workers.shutdownGracefully();
        }
    }
}
