%% echo_gen_tcp — a framed echo server as an Erlang programmer writes it: gen_tcp {packet,4},
%% {active,once}, one process per connection. Not written for framespec: a peer to judge and to
%% benchmark against.  Run: escript peers/echo_gen_tcp.erl PORT [PacketSizeLimit]
-module(echo_gen_tcp).
-mode(compile).
-export([main/1]).

main([PortStr | Rest]) ->
    Port = list_to_integer(PortStr),
    Extra = case Rest of
                [Max] -> [{packet_size, list_to_integer(Max)}];
                [] -> []
            end,
    {ok, L} = gen_tcp:listen(Port, [binary, {packet, 4}, {active, false}, {reuseaddr, true},
                                    {ip, {127,0,0,1}}, {backlog, 1024}, {nodelay, true} | Extra]),
    io:format("listening on 127.0.0.1:~p~n", [Port]),
    accept(L).

accept(L) ->
    {ok, S} = gen_tcp:accept(L),
    Pid = spawn(fun() -> receive go -> ok end, inet:setopts(S, [{active, once}]), loop(S) end),
    ok = gen_tcp:controlling_process(S, Pid),
    Pid ! go,
    accept(L).

loop(S) ->
    receive
        {tcp, S, Data} ->
            gen_tcp:send(S, Data),
            inet:setopts(S, [{active, once}]),
            loop(S);
        {tcp_closed, S} -> ok;
        {tcp_error, S, _} -> gen_tcp:close(S)
    end.
