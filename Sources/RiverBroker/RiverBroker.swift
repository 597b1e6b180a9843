// RiverBroker: The ZeroMQ wire protocol, the least-busy proxy, the worker loop and the async client.
// See DESIGN.md for how this module fits the data path.
