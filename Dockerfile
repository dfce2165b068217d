# syntax=docker/dockerfile:1

# Build meetgraph without cgo (CGO_ENABLED=0), so the binary links no C libraries.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/meetgraph ./cmd/meetgraph

FROM debian:bookworm-slim
# ffmpeg and pocketsphinx with its US English model are the media tools meetgraph needs at
# run time. curl runs the gateway's health check in docker-compose.yml.
RUN apt-get update \
	&& apt-get install -y --no-install-recommends \
		ca-certificates curl ffmpeg pocketsphinx pocketsphinx-en-us \
	&& rm -rf /var/lib/apt/lists/*
RUN useradd --system --no-log-init --create-home --home-dir /home/meetgraph --uid 10001 meetgraph
COPY --from=build /out/meetgraph /usr/local/bin/meetgraph
USER meetgraph
WORKDIR /home/meetgraph
EXPOSE 8080
ENTRYPOINT ["meetgraph"]
CMD ["serve"]
