// Node::Loop: the node's event loop and its worker thread, shared by node.cpp and
// node_network.cpp. Private to node/.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include "node/node.h"

namespace cairn::node {

struct Node::Loop {
  boost::asio::io_context io;
  // One thread for gossip admission and serving block requests, off the p2p and loop threads.
  boost::asio::thread_pool worker{1};
  boost::asio::steady_timer tick{io};
  boost::asio::signal_set signals{io, SIGINT, SIGTERM};
  Status exit_status;
};

}  // namespace cairn::node
