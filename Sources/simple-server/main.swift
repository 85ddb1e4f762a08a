import LWSKit
print("placeholder")
