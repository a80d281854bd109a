# man.mk - the manual pages; included by the top-level Makefile.am
# (non-recursive: paths are relative to the top of the tree).  Pages that
# only say ".so man3/PAGE.3" make "man FUNCTION" show the page of its group.

dist_man1_MANS = \
	doc/tcpchat-chat-client.1 \
	doc/tcpchat-chat-server.1 \
	doc/tcpchat-echo-client.1 \
	doc/tcpchat-echo-server.1 \
	doc/tcpchat-talk.1 \
	doc/tcpchat-time-client.1 \
	doc/tcpchat-time-server.1

dist_man3_MANS = \
	doc/tcpchat.3 \
	doc/tcpchat_client_close.3 \
	doc/tcpchat_client_connect.3 \
	doc/tcpchat_client_connect_from.3 \
	doc/tcpchat_client_local.3 \
	doc/tcpchat_client_peer.3 \
	doc/tcpchat_client_recv.3 \
	doc/tcpchat_client_recv_line.3 \
	doc/tcpchat_client_send.3 \
	doc/tcpchat_client_shutdown.3 \
	doc/tcpchat_conn_close.3 \
	doc/tcpchat_conn_peer.3 \
	doc/tcpchat_conn_queued.3 \
	doc/tcpchat_conn_send.3 \
	doc/tcpchat_conn_server.3 \
	doc/tcpchat_conn_set_userdata.3 \
	doc/tcpchat_conn_userdata.3 \
	doc/tcpchat_loop_create.3 \
	doc/tcpchat_loop_free.3 \
	doc/tcpchat_loop_now.3 \
	doc/tcpchat_loop_post.3 \
	doc/tcpchat_loop_run.3 \
	doc/tcpchat_loop_stop.3 \
	doc/tcpchat_server_accept.3 \
	doc/tcpchat_server_address.3 \
	doc/tcpchat_server_bind.3 \
	doc/tcpchat_server_broadcast.3 \
	doc/tcpchat_server_broadcast_if.3 \
	doc/tcpchat_server_create.3 \
	doc/tcpchat_server_foreach.3 \
	doc/tcpchat_server_free.3 \
	doc/tcpchat_server_listen.3 \
	doc/tcpchat_server_on_close.3 \
	doc/tcpchat_server_on_connect.3 \
	doc/tcpchat_server_on_data.3 \
	doc/tcpchat_server_on_eof.3 \
	doc/tcpchat_server_on_full.3 \
	doc/tcpchat_server_on_line.3 \
	doc/tcpchat_server_on_long_line.3 \
	doc/tcpchat_server_port.3 \
	doc/tcpchat_server_set_limit.3 \
	doc/tcpchat_server_set_userdata.3 \
	doc/tcpchat_server_start.3 \
	doc/tcpchat_server_stat.3 \
	doc/tcpchat_server_unlisten.3 \
	doc/tcpchat_server_userdata.3 \
	doc/tcpchat_strerror.3 \
	doc/tcpchat_timer_create.3 \
	doc/tcpchat_timer_free.3 \
	doc/tcpchat_timer_start.3 \
	doc/tcpchat_timer_stop.3 \
	doc/tcpchat_version.3
