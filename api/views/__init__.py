"""The API's views: parse the request, call one service, present the result."""
