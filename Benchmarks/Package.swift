// swift-tools-version:6.0
// The benchmark servers: LWSKit's echo servers (callback and async style) and the SwiftNIO
// reference. A package of its own, so LWSKit's users never build SwiftNIO. The C programs
// (load generator, plain libwebsockets reference) are in C/ and built by echo-compare.sh.
import PackageDescription

let package = Package(
    name: "LWSKitBenchmarks",
    dependencies: [
        .package(name: "LWSKit", path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
    ],
    targets: [
        .executableTarget(
            name: "lwskit-echo-server",
            dependencies: [.product(name: "LWSKit", package: "LWSKit")]
        ),
        .executableTarget(
            name: "nio-echo-server",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
