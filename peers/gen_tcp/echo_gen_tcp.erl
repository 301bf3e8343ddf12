%% echo_gen_tcp — a framed echo server as an Erlang programmer writes it: gen_tcp {packet,4},
%% {active,once}, one process per connection, `receive ... after` for the idle timeout. Not
%% written for framespec: a peer to judge and to benchmark against.
%% Run: escript peers/gen_tcp/echo_gen_tcp.erl PORT [IDLE_SECONDS] [--fixed]
%% --fixed applies what peers/gen_tcp/README.md says a user should change: {packet_size, Max}
%% (without it a {packet,4} socket has no limit: a header announcing 4 GiB is waited for), and
%% {exit_on_close, false} with gen_tcp:close/1 on {tcp_closed, S}: gen_tcp:close waits until the
%% port's output queue is sent, where the default closes the port at the peer's FIN and drops it.
-module(echo_gen_tcp).
-mode(compile).
-export([main/1]).

main([PortStr | Rest]) ->
    Port = list_to_integer(PortStr),
    Fixed = lists:member("--fixed", Rest),
    Idle = case [list_to_integer(A) || A <- Rest, A =/= "--fixed"] of
               [I | _] -> I * 1000;
               [] -> infinity
           end,
    Extra = case Fixed of
                true -> [{packet_size, 16 * 1024 * 1024}, {exit_on_close, false}];
                false -> []
            end,
    {ok, L} = gen_tcp:listen(Port, [binary, {packet, 4}, {active, false}, {reuseaddr, true},
                                    {ip, {127,0,0,1}}, {backlog, 1024}, {nodelay, true} | Extra]),
    io:format("listening on 127.0.0.1:~p~n", [Port]),
    accept(L, Idle, Fixed).

accept(L, Idle, Fixed) ->
    {ok, S} = gen_tcp:accept(L),
    Pid = spawn(fun() -> receive go -> ok end, inet:setopts(S, [{active, once}]), loop(S, Idle, Fixed) end),
    ok = gen_tcp:controlling_process(S, Pid),
    Pid ! go,
    accept(L, Idle, Fixed).

loop(S, Idle, Fixed) ->
    receive
        {tcp, S, Data} ->
            gen_tcp:send(S, Data),
            inet:setopts(S, [{active, once}]),
            loop(S, Idle, Fixed);
        {tcp_closed, S} when Fixed -> gen_tcp:close(S);
        {tcp_closed, S} -> ok;
        {tcp_error, S, _} -> gen_tcp:close(S)
    after Idle ->
        gen_tcp:close(S)
    end.
