package graph

// SDL is the schema the executor was generated from (schema.graphqls), as
// written: what GET /schema.graphql serves and client code generators read.
func SDL() string { return sources[0].Input }
