local x = 0 for i = 1, 0 do x = x + i end return 1
