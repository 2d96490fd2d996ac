local x = 0 for i = 1, 1600 do x = x + i end return 1
