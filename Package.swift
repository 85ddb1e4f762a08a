// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "LWSKit",
    products: [
        .library(name: "LWSKit", targets: ["LWSKit"]),
        .library(name: "LWSKitRedis", targets: ["LWSKitRedis"]),
        .executable(name: "simple-server", targets: ["simple-server"]),
        .executable(name: "simple-client", targets: ["simple-client"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibWebSockets",
            pkgConfig: "libwebsockets",
            providers: [.apt(["libwebsockets-dev", "libssl-dev", "libcap-dev", "pkg-config"])]
        ),
        .systemLibrary(
            name: "CHiredis",
            pkgConfig: "hiredis",
            providers: [.apt(["libhiredis-dev"])]
        ),
        .target(
            name: "LWSKit",
            dependencies: [
                "CLibWebSockets",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "LWSKitRedis",
            dependencies: [
                "LWSKit",
                "CHiredis",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "simple-server",
            dependencies: [
                "LWSKit",
                "LWSKitRedis",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            exclude: ["README.md"],
            resources: [.copy("web")]
        ),
        .executableTarget(
            name: "simple-client",
            dependencies: [
                "LWSKit",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            exclude: ["README.md"]
        ),
        .testTarget(
            name: "LWSKitTests",
            dependencies: [
                "LWSKit",
                "LWSKitRedis",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
