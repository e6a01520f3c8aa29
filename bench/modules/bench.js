// isopool-bench's call target: trivial, so the figures measure the service.
export default (x) => x * 2;
